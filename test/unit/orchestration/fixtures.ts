/** Orchestrations shared by the orchestration unit tests. */
import { activity, orchestration } from '../../../src/orchestration/definition.js';
import { OrchestrationExecutor } from '../../../src/orchestration/executor.js';
import type { HistoryEvent } from '../../../src/orchestration/history.js';

export const sayHello = activity('sayHello', async (name: string) => `Hello ${name}!`);

export const helloSequence = orchestration('helloSequence', function* (ctx) {
  const out: string[] = [];
  for (const city of ['Tokyo', 'Seattle', 'London']) out.push(yield ctx.callActivity('sayHello', city));
  return out;
});

/** Replays `history`, then applies `incoming` as new events; returns the executor and what it produced. */
export function run(def: Parameters<typeof newExecutor>[0], history: HistoryEvent[], incoming: HistoryEvent[] = []) {
  const ex = newExecutor(def);
  ex.apply(history, true);
  const ignored = ex.apply(incoming, false).ignored;
  return { ex, ignored, ...ex.takeNew() };
}

export function newExecutor(def: ConstructorParameters<typeof OrchestrationExecutor>[0]) {
  return new OrchestrationExecutor(def, 'i1');
}

/** The order flow of the golden history: fan-out with retry, entity call and signal, timer vs event, sub-orchestration. */
export const orderFlow = orchestration('orderFlow', function* (ctx, order: { id: string; items: string[] }) {
  ctx.setCustomStatus({ stage: 'reserve' });
  const retry = { maxAttempts: 3, firstRetryIntervalMs: 5000, backoffCoefficient: 2 };
  const reserved: string[] = yield ctx.all(order.items.map((item) => ctx.callActivity<string>('reserve', item, { retry })));
  const amount: number = yield ctx.callEntity('@stock@main', 'take', reserved.length);
  ctx.signalEntity('@audit@orders', 'record', order.id);
  ctx.setCustomStatus({ stage: 'approve' });
  const timeout = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 3_600_000));
  const approval = ctx.waitForExternalEvent<string>('Approval');
  const winner: unknown = yield ctx.any([timeout, approval]);
  if (winner !== approval) return { id: order.id, status: 'expired' };
  timeout.cancel();
  const receipt: string = yield ctx.callSubOrchestrator('billing', { id: order.id, amount });
  return { id: order.id, status: 'done', approvedBy: approval.result, receipt };
});
