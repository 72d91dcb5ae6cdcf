/**
 * Monitor: poll an external condition on a durable timer until it holds or an expiry passes, then
 * alert. Each poll is one run; continueAsNew keeps the history short however long it watches.
 */
import { activity, orchestration } from '../src/index.js';

/** The "external system": a job is ready once its time has come. */
export const checkJobStatus = activity('checkJobStatus', async (job: { readyAt: number }) => (Date.now() >= job.readyAt ? 'ready' : 'pending'));
export const sendAlert = activity('sendAlert', async (msg: string) => `alerted: ${msg}`);

export interface MonitorInput {
  jobId: string;
  readyAt: number;
  pollMs: number;
  /** ISO time after which the monitor gives up. */
  expiresAt: string;
  polls?: number;
}

export const monitorJob = orchestration('monitorJob', function* (ctx, input: MonitorInput) {
  const polls = (input.polls ?? 0) + 1;
  if (ctx.currentUtcDateTime.getTime() >= Date.parse(input.expiresAt)) {
    return { jobId: input.jobId, outcome: 'expired', polls };
  }
  const status: string = yield ctx.callActivity('checkJobStatus', { readyAt: input.readyAt });
  if (status === 'ready') {
    const alert: string = yield ctx.callActivity('sendAlert', `job ${input.jobId} is ready`);
    return { jobId: input.jobId, outcome: 'ready', polls, alert };
  }
  ctx.setCustomStatus({ polls });
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + input.pollMs));
  ctx.continueAsNew({ ...input, polls });
  return undefined;
});
