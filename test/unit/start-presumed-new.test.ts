/**
 * A start of an instance the worker does not hold is prepared as new without reading the store
 * (src/worker/orchestration-host.ts, loadOrPresumeNew). When the instance did exist, the append
 * fenced on "subject empty" is rejected and the start is prepared again from the stored history:
 * restarting a finished instance on a fresh worker must run it again, as one new run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { activity, orchestration } from '../../src/index.js';
import { TestHost } from '../../src/testing/index.js';

const double = activity('double', async (n: number) => n * 2);
const twice = orchestration('twice', function* (ctx, n: number) {
  const a = (yield ctx.callActivity('double', n)) as number;
  return (yield ctx.callActivity('double', a)) as number;
});

let host: TestHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

describe('a start presumed new', () => {
  it('runs new instances, and restarts an existing one that the worker does not hold from its history', async () => {
    host = await TestHost.start({ orchestrations: [twice], activities: [double] });
    const id = await host.client.startNew('twice', { input: 3, instanceId: 'again' });
    expect((await host.client.waitForCompletion(id, { timeoutMs: 60_000 })).output).toBe(12);

    await host.restart(); // a fresh worker: nothing cached, so the next start is presumed new
    await host.client.startNew('twice', { input: 5, instanceId: 'again' });
    const s = await host.client.waitForCompletion('again', { timeoutMs: 60_000 });
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toBe(20);
    const history = (await host.client.readHistory('again')) as Array<{ type: string }>;
    expect(history.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1); // one run, the new one
    expect(history.filter((e) => e.type === 'TaskCompleted')).toHaveLength(2);
  });
});
