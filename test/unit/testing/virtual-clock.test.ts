/** The one clock: the virtual clock's ordering, timing and errors, and the system clock's basics. */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { DurableError } from '../../../src/core/errors.js';
import { VirtualClock } from '../../../src/testing/index.js';

const T = Date.parse('2030-01-01T00:00:00Z');

describe('VirtualClock', () => {
  it('stands still until advanced, then fires due timers in due order, each at its own time', async () => {
    const c = new VirtualClock(T);
    const fired: Array<[string, number]> = [];
    c.setTimer(T + 3000, () => fired.push(['c', c.now() - T]));
    c.setTimer(T + 1000, () => fired.push(['a', c.now() - T]));
    c.setTimer(T + 1000, () => fired.push(['b', c.now() - T])); // same time: order of setting
    c.setTimer(T + 9000, () => fired.push(['late', c.now() - T]));
    await new Promise((r) => setTimeout(r, 5));
    expect(fired).toEqual([]);
    expect(c.nextDueAt()).toBe(T + 1000);
    await c.advance(5000);
    expect(fired).toEqual([
      ['a', 1000],
      ['b', 1000],
      ['c', 3000],
    ]);
    expect(c.now()).toBe(T + 5000);
    expect(c.nextDueAt()).toBe(T + 9000);
    expect(c.pendingTimers).toBe(1);
  });

  it('fires timers that callbacks (and the async work they start) set within the same advance', async () => {
    const c = new VirtualClock(T);
    const fired: number[] = [];
    c.setTimer(T + 100, () => {
      fired.push(c.now() - T);
      void Promise.resolve().then(() => c.setTimer(c.now() + 100, () => fired.push(c.now() - T)));
      c.setTimer(T + 50, () => fired.push(c.now() - T)); // already past: fires at once, at now
    });
    await c.advance(1000);
    expect(fired).toEqual([100, 100, 200]);
  });

  it('cancelled timers never fire; sleep follows virtual time and can be aborted', async () => {
    const c = new VirtualClock(T);
    let fired = false;
    const cancel = c.setTimer(T + 10, () => {
      fired = true;
    });
    cancel();
    cancel();
    let woke = 0;
    const slept = c.sleep(60_000).then(() => {
      woke = c.now();
    });
    const ac = new AbortController();
    const aborted = c.sleep(1000, ac.signal).catch((e: unknown) => e);
    ac.abort(new Error('stop'));
    await c.advance(60_000);
    await slept;
    expect(fired).toBe(false);
    expect(woke).toBe(T + 60_000);
    expect(((await aborted) as Error).message).toBe('stop');
    expect(c.pendingTimers).toBe(0);
  });

  it('fires a timer that is already due on the next turn, without an advance', async () => {
    const c = new VirtualClock(T);
    await c.sleep(0);
    let ran = false;
    c.setTimer(T - 5000, () => {
      ran = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(ran).toBe(true);
  });

  it('runs concurrent advances one after the other', async () => {
    const c = new VirtualClock(T);
    const seen: number[] = [];
    c.setTimer(T + 1500, () => seen.push(c.now() - T));
    await Promise.all([c.advance(1000), c.advance(1000)]);
    expect(seen).toEqual([1500]);
    expect(c.now()).toBe(T + 2000);
  });

  it('refuses to go backwards with validation', async () => {
    const c = new VirtualClock(T);
    for (const p of [c.advance(-1), c.advance(Number.NaN), c.advanceTo(T - 1), c.advanceTo(new Date(Number.NaN))]) {
      await expect(p).rejects.toSatisfy((e: unknown) => DurableError.is(e, 'validation'));
    }
    expect(() => new VirtualClock(Number.NaN)).toThrow(DurableError);
    await c.advanceTo(new Date(T + 10));
    expect(c.now()).toBe(T + 10);
  });

  it('a throwing callback rejects the advance, leaving the clock at its time', async () => {
    const c = new VirtualClock(T);
    c.setTimer(T + 10, () => {
      throw new Error('boom');
    });
    await expect(c.advance(100)).rejects.toThrow('boom');
    expect(c.now()).toBe(T + 10);
    await c.advance(5);
    expect(c.now()).toBe(T + 15);
  });

  it('jumps a month of minute timers in well under a second', async () => {
    const c = new VirtualClock(T);
    let n = 0;
    const tick = () => {
      n++;
      c.setTimer(c.now() + 60_000, tick);
    };
    c.setTimer(T + 60_000, tick);
    const t0 = performance.now();
    await c.advance(30 * 86_400_000);
    expect(n).toBe(30 * 24 * 60);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});

describe('systemClock', () => {
  it('fires at its time, cancels, and sleeps', async () => {
    const t0 = systemClock.now();
    const at = await new Promise<number>((r) => systemClock.setTimer(t0 + 20, () => r(systemClock.now())));
    expect(at).toBeGreaterThanOrEqual(t0 + 20);
    let fired = false;
    systemClock.setTimer(systemClock.now() + 5, () => {
      fired = true;
    })();
    await systemClock.sleep(20);
    expect(fired).toBe(false);
    const ac = new AbortController();
    const p = systemClock.sleep(10_000, ac.signal);
    ac.abort(new Error('abort'));
    await expect(p).rejects.toThrow('abort');
  });
});
