/**
 * A virtual clock for the test kit: time stands still until a test (or the TestHost's time
 * skipping) advances it, and then every timer due on the way fires at its own time, in due order.
 *
 * Invariants:
 * - `now()` never goes backwards; asking it to is a `validation` error.
 * - While advancing, `now()` is each timer's due time when that timer fires (a callback sees the
 *   time it was due at, not the end of the advance), timers due at the same time fire in the
 *   order they were set, and timers set by a callback are fired in the same advance if they fall
 *   within it.
 * - Between two fired timers the advance yields to the event loop, so asynchronous work a
 *   callback started (a commit, a publish) runs before time moves on.
 * - A timer already due when it is set fires on the next turn of the event loop without any
 *   advance, as a zero-delay setTimeout would.
 */
import { type CancelTimer, type Clock, sleepOn } from '../core/clock.js';
import { DurableError } from '../core/errors.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** Turns of the event loop given to the work a fired timer started, before time moves on. */
const SETTLE_TURNS = 3;

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * @example
 * const clock = new VirtualClock(Date.parse('2030-01-01T00:00:00Z'));
 * clock.setTimer(clock.now() + 60_000, () => console.log('a minute later'));
 * await clock.advance(3_600_000); // fires it at +60 s, then stops at +1 h
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  /** Kept sorted by (at, seq): the next due timer is always first. */
  #timers: Pending[] = [];
  #advancing: Promise<void> = Promise.resolve();

  constructor(startMs: number = Date.now()) {
    if (!Number.isFinite(startMs)) throw new DurableError('validation', `virtual clock start must be a finite time in ms, got ${startMs}`);
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** The time of the next pending timer, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    return this.#timers[0]?.at;
  }

  /** How many timers are pending. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  setTimer(atMs: number, fn: () => void): CancelTimer {
    if (Number.isNaN(atMs)) throw new DurableError('validation', 'timer time is NaN');
    const p: Pending = { at: Math.max(atMs, this.#now), seq: ++this.#seq, fn };
    this.#insert(p);
    // Due already: fire on the next turn, as a zero-delay timer would, without waiting for an advance.
    if (p.at <= this.#now)
      setImmediate(() => {
        if (this.#remove(p)) p.fn();
      });
    return () => {
      this.#remove(p);
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /**
   * Moves time forward by `ms`, firing each due timer at its time, then resolves at `now + ms`.
   * Concurrent advances run one after the other. A callback that throws rejects the advance,
   * with the clock left at that timer's time.
   */
  advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) {
      return Promise.reject(new DurableError('validation', `time only moves forward: advance(${ms}) needs a finite ms >= 0`));
    }
    return this.#enqueue(() => this.#runTo(this.#now + ms));
  }

  /** Moves time forward to `atMs` (a Date or ms); an earlier time than now is a `validation` error. */
  advanceTo(at: number | Date): Promise<void> {
    const atMs = typeof at === 'number' ? at : at.getTime();
    return this.#enqueue(() => {
      if (!Number.isFinite(atMs) || atMs < this.#now) {
        throw new DurableError('validation', `time only moves forward: advanceTo(${iso(atMs)}) is before now (${iso(this.#now)})`);
      }
      return this.#runTo(atMs);
    });
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.#advancing.then(step);
    this.#advancing = run.catch(() => undefined);
    return run;
  }

  async #runTo(target: number): Promise<void> {
    for (;;) {
      const next = this.#timers[0];
      if (!next || next.at > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      for (let i = 0; i < SETTLE_TURNS; i++) await turn();
    }
    this.#now = Math.max(this.#now, target);
  }

  #insert(p: Pending): void {
    // Binary search for the first timer due strictly later: equal times keep insertion order.
    let lo = 0;
    let hi = this.#timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#timers[mid]!.at <= p.at) lo = mid + 1;
      else hi = mid;
    }
    this.#timers.splice(lo, 0, p);
  }

  #remove(p: Pending): boolean {
    const i = this.#timers.indexOf(p);
    if (i < 0) return false;
    this.#timers.splice(i, 1);
    return true;
  }
}
