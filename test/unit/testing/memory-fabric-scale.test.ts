/**
 * The memory fabric stays linear where the engine is busy: many deduplicated appends, scans,
 * follows, and a work queue drained item by item (an O(n) step per message would show here).
 */
import { expect, it } from 'vitest';
import type { WorkItem } from '../../../src/store/fabric.js';
import { MemoryFabric, VirtualClock } from '../../../src/testing/index.js';

it('20,000 deduplicated appends, a scan, a follow and 5,000 work items in well under the time limit', async () => {
  const f = new MemoryFabric({ clock: new VirtualClock(0) });
  await f.ensureStream({ name: 'EV', subjects: ['ev.>'] });
  await f.ensureStream({ name: 'Q', subjects: ['q.>'], workQueue: true });
  const data = new TextEncoder().encode('{}');
  const t0 = performance.now();
  for (let i = 0; i < 20_000; i++) await f.publish(`ev.${i % 100}`, data, { msgId: `m${i}` });
  expect((await f.publish('ev.0', data, { msgId: 'm5' })).duplicate).toBe(true);
  let scanned = 0;
  await f.scan('EV', 'ev.7', 1, () => {
    scanned++;
  });
  expect(scanned).toBe(200);
  let followed = 0;
  const done = new Promise<void>(
    (resolve) =>
      void f.follow('EV', 'ev.>', 1, () => {
        if (++followed === 20_000) resolve();
      }),
  );
  await done;
  for (let i = 0; i < 5_000; i++) await f.publish('q.a', data);
  const q = await f.workQueue('Q', 'd', { filter: 'q.>', ackWaitMs: 30_000 });
  let acked = 0;
  while (acked < 5_000) {
    const items: WorkItem[] = [];
    for await (const it of q.fetch(500, { expiresMs: 0 })) items.push(it);
    for (const it of items) it.ack();
    acked += items.length;
  }
  expect(await q.info()).toEqual({ pending: 0, ackPending: 0 });
  expect(performance.now() - t0).toBeLessThan(5_000);
});
