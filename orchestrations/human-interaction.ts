/**
 * Human interaction: wait for an approval event, or time out (72 hours unless the input says
 * otherwise) and escalate. Whichever comes first wins; the timer is cancelled on approval.
 */
import { activity, orchestration } from '../src/index.js';

export const escalate = activity('escalate', async (requestId: string) => `escalated ${requestId}`);

export const approvalWorkflow = orchestration('approvalWorkflow', function* (ctx, input: { requestId: string; timeoutMs?: number }) {
  const deadline = new Date(ctx.currentUtcDateTime.getTime() + (input.timeoutMs ?? 72 * 3600_000));
  const timeout = ctx.createTimer(deadline);
  const approval = ctx.waitForExternalEvent('Approval');
  ctx.setCustomStatus('waiting for approval');
  const winner = yield ctx.any([approval, timeout]);
  if (winner === approval) {
    timeout.cancel();
    const decision = approval.result as { approved: boolean; by?: string };
    return { requestId: input.requestId, outcome: decision.approved ? 'approved' : 'rejected', by: decision.by ?? null };
  }
  const note: string = yield ctx.callActivity('escalate', input.requestId);
  return { requestId: input.requestId, outcome: 'escalated', note };
});
