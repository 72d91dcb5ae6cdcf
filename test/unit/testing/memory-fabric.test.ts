/**
 * The in-memory fabric against the fabric contract, on a virtual clock (time-dependent rules are
 * checked by advancing it), plus what only the memory fabric promises: no network, one store
 * shared by several connections.
 */
import { describe, expect, it } from 'vitest';
import type { WorkItem } from '../../../src/store/fabric.js';
import { MemoryFabric, MemoryStore, VirtualClock } from '../../../src/testing/index.js';
import { fabricContract } from '../../contract/fabric-contract.js';

fabricContract('memory (virtual clock)', async () => {
  const clock = new VirtualClock(Date.parse('2030-01-01T00:00:00Z'));
  const store = new MemoryStore({ clock });
  return {
    fabric: store.connect(),
    connect: async () => store.connect(),
    pass: (ms) => clock.advance(ms),
    close: async () => undefined,
  };
});

fabricContract('memory (system clock)', async () => {
  const store = new MemoryStore();
  return {
    fabric: store.connect(),
    connect: async () => store.connect(),
    pass: (ms) => new Promise((r) => setTimeout(r, ms)),
    close: async () => undefined,
  };
});

describe('MemoryFabric', () => {
  it('a work item redelivery waits for virtual time, however long the real wait', async () => {
    const clock = new VirtualClock(0);
    const f = new MemoryFabric({ clock });
    await f.ensureStream({ name: 'Q', subjects: ['q.>'], workQueue: true });
    const q = await f.workQueue('Q', 'd', { filter: 'q.>', ackWaitMs: 30_000 });
    await f.publish('q.1', new TextEncoder().encode('x'));
    const all = async (it: AsyncIterable<WorkItem>) => {
      const out: WorkItem[] = [];
      for await (const i of it) out.push(i);
      return out;
    };
    expect((await all(q.fetch(1)))[0]?.deliveryCount).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    const empty = all(q.fetch(1, { expiresMs: 10 }));
    expect(clock.nextDueAt()).toBe(10);
    await clock.advance(10);
    expect(await empty).toEqual([]);
    const next = all(q.fetch(1, { expiresMs: 60_000 }));
    await clock.advance(29_990);
    expect((await next)[0]?.deliveryCount).toBe(2);
  });
});
