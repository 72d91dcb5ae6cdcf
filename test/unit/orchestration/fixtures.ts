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
