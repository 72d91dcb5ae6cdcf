/**
 * Retry of activities and sub-orchestrations: a failed attempt is followed by a durable timer and
 * a new attempt, until `maxAttempts`; the last failure is what the code sees.
 * Invariant: every attempt and every back-off timer is an ordinary scheduled step (its own
 * sequence id and history event), so retries replay exactly like hand-written code would.
 */
import { DurableError } from '../core/errors.js';
import { Task, type TimerTask } from './tasks.js';

/** `{ maxAttempts: 3, firstRetryIntervalMs: 1000, backoffCoefficient: 2 }`: waits 1 s, then 2 s. */
export interface RetryPolicy {
  /** Total attempts, the first included (>= 1). */
  maxAttempts: number;
  firstRetryIntervalMs: number;
  /** Multiplier per further retry; default 1 (constant interval). */
  backoffCoefficient?: number;
  /** Upper bound of one interval. */
  maxRetryIntervalMs?: number;
}

/** Checks a policy up front, so that a bad one fails at the call, not after the first failure. */
export function validateRetryPolicy(p: RetryPolicy): RetryPolicy {
  const ok =
    Number.isInteger(p.maxAttempts) &&
    p.maxAttempts >= 1 &&
    Number.isFinite(p.firstRetryIntervalMs) &&
    p.firstRetryIntervalMs >= 0 &&
    (p.backoffCoefficient === undefined || (Number.isFinite(p.backoffCoefficient) && p.backoffCoefficient >= 1)) &&
    (p.maxRetryIntervalMs === undefined || (Number.isFinite(p.maxRetryIntervalMs) && p.maxRetryIntervalMs >= 0));
  if (!ok) throw new DurableError('validation', `invalid retry policy ${JSON.stringify(p)}: maxAttempts is an integer >= 1, intervals >= 0, backoffCoefficient >= 1`);
  return p;
}

/** The wait before attempt `attempt + 1`, after `attempt` (1-based) failed. */
export function retryDelayMs(p: RetryPolicy, attempt: number): number {
  const raw = p.firstRetryIntervalMs * (p.backoffCoefficient ?? 1) ** (attempt - 1);
  return Math.round(p.maxRetryIntervalMs === undefined ? raw : Math.min(raw, p.maxRetryIntervalMs));
}

/**
 * A task over several attempts. `start(n)` schedules attempt n; `timer(at)` schedules a back-off
 * timer; `now()` is the orchestration's deterministic clock.
 */
export function retrying<T>(policy: RetryPolicy, start: (attempt: number) => Task<T>, timer: (fireAt: Date) => TimerTask, now: () => Date): Task<T> {
  const outer = new Task<T>();
  const run = (attempt: number): void => {
    const t = start(attempt);
    t.onSettled(() => {
      if (!t.isFaulted) return outer.resolve(t.result as T);
      if (attempt >= policy.maxAttempts) return outer.reject(t.error!);
      timer(new Date(now().getTime() + retryDelayMs(policy, attempt))).onSettled(() => run(attempt + 1));
    });
  };
  run(1);
  return outer;
}
