/** ReplyInbox on the memory fabric: one subscription, a token per call, bounded, timed on the fabric clock. */
import { describe, expect, it } from 'vitest';
import { ReplyInbox } from '../../../src/client/reply-inbox.js';
import { DurableError } from '../../../src/core/errors.js';
import { MemoryStore, VirtualClock } from '../../../src/testing/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('ReplyInbox', () => {
  it('matches replies to their calls by token, over one subscription', async () => {
    const store = new MemoryStore({ clock: new VirtualClock(0) });
    const f = store.connect();
    const inbox = await ReplyInbox.open(f, (m) => dec(m.data));
    expect(store.subscriptions.size).toBe(1);
    const a = inbox.expect(1_000, () => new DurableError('timeout', 'a'));
    const b = inbox.expect(1_000, () => new DurableError('timeout', 'b'));
    expect(store.subscriptions.size).toBe(1);
    f.publishCore(b.subject, enc('for b'));
    f.publishCore(a.subject, enc('for a'));
    f.publishCore(a.subject, enc('late duplicate'));
    expect(await a.promise).toBe('for a');
    expect(await b.promise).toBe('for b');
    expect(inbox.inFlight).toBe(0);
    inbox.close();
    expect(store.subscriptions.size).toBe(0);
  });

  it('times out on the fabric clock, refuses beyond its bound, and fails what is pending on close', async () => {
    const clock = new VirtualClock(0);
    const f = new MemoryStore({ clock }).connect();
    const inbox = await ReplyInbox.open(f, (m) => dec(m.data), { maxPending: 2 });
    const slow = inbox.expect(500, () => new DurableError('timeout', 'no answer'));
    const other = inbox.expect(10_000, () => new DurableError('timeout', 'no answer'));
    expect(() => inbox.expect(1_000, () => new Error('x'))).toThrow(expect.objectContaining({ code: 'connection' }));
    const slowDone = slow.promise.catch((e: unknown) => e);
    await clock.advance(500);
    expect(await slowDone).toMatchObject({ code: 'timeout', message: 'no answer' });
    const third = inbox.expect(1_000, () => new Error('x')); // room again
    third.cancel(new DurableError('validation', 'never sent'));
    await expect(third.promise).rejects.toMatchObject({ code: 'validation' });
    inbox.close();
    await expect(other.promise).rejects.toMatchObject({ code: 'connection' });
    expect(() => inbox.expect(1_000, () => new Error('x'))).toThrow(expect.objectContaining({ code: 'connection' }));
  });
});
