/**
 * Activities under saturation: more work items than execution slots, each running longer than
 * the ack wait. Injected: activityConcurrency 2, activityAckWaitMs 600, 8 activities of 700 ms
 * fanned out at once. Checked: every activity ran exactly once (items waiting for a slot keep
 * their claim; they used to be prefetched silently, time out and run a second time) and the
 * instance completes with every result. Run on both paths to the slots.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { activity, DurableClient, orchestration, Worker } from '../../src/index.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

// Both paths share the execution slots: items pulled from the queue, and items handed over by the
// worker's own partitions (local dispatch, the default).
it.each([
  ['pulled from the queue', 0],
  ['run locally', undefined],
] as const)(
  'runs each activity once when items wait longer than the ack wait for a free slot (%s)',
  async (_path, localActivityBacklog) => {
    const runs = new Map<number, number>();
    const slow = activity('slowSquare', async (n: number) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 700));
      return n * n;
    });
    const fan = orchestration('saturate', function* (ctx, count: number) {
      const tasks = [];
      for (let i = 0; i < count; i++) tasks.push(ctx.callActivity('slowSquare', i));
      return yield ctx.all(tasks);
    });
    const hub = `saturation-${localActivityBacklog ?? 'local'}`;
    const worker = await Worker.start({
      servers: server.url,
      hub,
      orchestrations: [fan],
      activities: [slow],
      activityConcurrency: 2,
      activityAckWaitMs: 600,
      ...(localActivityBacklog === undefined ? {} : { localActivityBacklog }),
      logger: pino({ level: 'silent' }),
    });
    const client = await DurableClient.connect({ servers: server.url, hub });
    try {
      const id = await client.startNew('saturate', { input: 8 });
      const status = await client.waitForCompletion(id, { timeoutMs: 30_000 });
      expect(status.runtimeStatus).toBe('Completed');
      expect(status.output).toEqual([0, 1, 4, 9, 16, 25, 36, 49]);
      await new Promise((r) => setTimeout(r, 1_000)); // a redelivery would run by now
      expect([...runs.entries()].sort((a, b) => a[0] - b[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => [n, 1]));
    } finally {
      await client.close();
      await worker.stop();
    }
  },
  60_000,
);
