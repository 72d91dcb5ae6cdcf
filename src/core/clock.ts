/**
 * The one clock of the engine. Every time the engine reads ("now") or waits for (a durable timer,
 * a retry back-off, a delayed signal, an activity's ack wait, a call's deadline) goes through a
 * Clock, so the test kit can swap in a virtual clock and move time itself.
 *
 * Invariant: a timer fires no earlier than its time by this clock's `now()`, at most once, never
 * after its cancel function was called; timers due at the same time fire in the order they were set.
 * Lease renewals are the one exception the architecture allows (they measure a real process's
 * liveness), and they are not the engine's: they belong to the NATS fabric.
 */

/** Cancels a timer; calling it after the timer fired, or twice, does nothing. */
export type CancelTimer = () => void;

export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number;
  /** Calls `fn` once when `now()` reaches `atMs` (at once, asynchronously, if it already has). */
  setTimer(atMs: number, fn: () => void): CancelTimer;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason if aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Node's timers cap a delay at 2^31-1 ms (~24.8 days); longer waits are re-armed on wake. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Sleeps on any clock; shared by the implementations so that abort handling is written once.
 * @example await sleepOn(clock, 500, signal)
 */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = clock.setTimer(clock.now() + Math.max(0, ms), () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The real clock: Date.now() and setTimeout.
 * @example const cancel = systemClock.setTimer(Date.now() + 1000, () => fire()); cancel();
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(atMs, fn) {
    let handle: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const arm = () => {
      const delay = Math.min(Math.max(0, atMs - Date.now()), MAX_DELAY_MS);
      handle = setTimeout(() => {
        if (done) return;
        if (Date.now() < atMs) return arm(); // a capped delay, or a timer that woke a little early
        done = true;
        fn();
      }, delay);
    };
    arm();
    return () => {
      done = true;
      if (handle !== undefined) clearTimeout(handle);
    };
  },
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
};
