/** Status followers order records by history position, never by the writers' clocks. */
import { describe, expect, it } from 'vitest';
import { decodeStatusEntry, StatusOrder } from '../../src/client/status.js';

const rec = (o: Record<string, unknown>) =>
  new TextEncoder().encode(JSON.stringify({ instanceId: 'i', name: 'n', runtimeStatus: 'Running', createdTime: 't', lastUpdatedTime: 't', ...o }));

describe('status order', () => {
  it('decodes the position and hides it from the status', () => {
    expect(decodeStatusEntry(rec({ _v: 7 }))).toEqual({ position: 7, status: expect.not.objectContaining({ _v: expect.anything() }) });
    expect(decodeStatusEntry(rec({})).position).toBe(0);
    expect(decodeStatusEntry(rec({ _v: 'x' })).position).toBe(0);
  });

  it('takes strictly later positions; a late earlier or same-position record is not news; unpositioned ones in arrival order', () => {
    const o = new StatusOrder();
    expect([5, 4, 5, 6, 6, 9].map((p) => o.accept(p))).toEqual([true, false, false, true, false, true]);
    const legacy = new StatusOrder();
    expect([0, 0, 3, 0].map((p) => legacy.accept(p))).toEqual([true, true, true, false]);
  });
});
