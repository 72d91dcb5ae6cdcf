/**
 * Start-up steps against a store that may still be forming (a NATS cluster electing its leaders):
 * one bounded retry loop for every step (streams, buckets, hub config, catalog, consumers, the
 * lease bucket's first reads). NATS-free: the engine and the test kit use it; which errors are
 * worth waiting out is told by the fabric (a DurableError `connection` with `details.transient`,
 * set by NatsFabric from the NATS error) or by the caller's `classify` (src/store/transient.ts
 * for raw nats.js errors).
 *
 * Invariant: a step is retried only on errors classified transient, never past the caller's
 * deadline: then it fails with DurableError('connection') naming the step and the last cause.
 */
import type { Logger } from 'pino';
import { DurableError } from '../core/errors.js';

/** Default bound of a whole start-up (Worker.start, DurableClient.connect, createHttpServer). */
export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;

/** What a forming or electing cluster (or a store coming up) says, in any client's words. */
export const TRANSIENT_MESSAGE =
  /\b(timeout|timed out|no responders|no leader|leader not (found|available)|temporarily unavailable|not (yet )?(enabled|available)|connection refused|ECONNREFUSED|ECONNRESET|EPIPE|incomplete results|no suitable peers)\b/i;
export const FATAL_MESSAGE = /insufficient (storage )?resources|authorization|permissions? violation|authentication/i;

/** `e` and its causes, outermost first (at most 5). */
export function causeChain(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let cur = e, depth = 0; cur !== undefined && cur !== null && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) out.push(cur);
  return out;
}

/**
 * The engine's view of a transient store error: a DurableError `timeout`, or `connection` that the
 * fabric marked `details.transient` (NatsFabric classifies the NATS error it wraps); any other
 * DurableError is final. A plain error is judged by its message (a forming cluster's words).
 */
export function isRetryable(e: unknown): boolean {
  if (e instanceof DurableError) return e.code === 'timeout' || (e.code === 'connection' && (e.details as { transient?: unknown } | undefined)?.transient === true);
  const message = (e as Error)?.message ?? String(e);
  return TRANSIENT_MESSAGE.test(message) && !FATAL_MESSAGE.test(message);
}

/** True when a create lost a race with another process creating the same stream, consumer or bucket. */
export function isAlreadyExistsMessage(e: unknown): boolean {
  return causeChain(e).some((c) => /already in use|already exists/i.test((c as Error)?.message ?? ''));
}

/** The messages of `e` and its causes, joined: "jetstream is not enabled: no responders: '$JS.API.INFO'". */
export function errorMessage(e: unknown): string {
  const parts: string[] = [];
  for (const c of causeChain(e)) {
    const m = c instanceof Error ? c.message : String(c);
    if (m && !parts.includes(m)) parts.push(m);
  }
  return parts.join(': ') || 'unknown error';
}

export interface StartupRetryOptions {
  /** Budget of this step when no `deadline` is given (default DEFAULT_STARTUP_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Absolute deadline (Date.now() ms) shared by all steps of one start-up; wins over timeoutMs. */
  deadline?: number;
  logger?: Logger;
  /** Extra errors to retry in this step (e.g. a create that raced with another process). */
  retryAlso?: (e: unknown) => boolean;
  /** Which errors are transient (default isRetryable; raw nats.js calls: transient.ts's isTransient). */
  classify?: (e: unknown) => boolean;
}

export interface StepOptions<T> extends StartupRetryOptions {
  /** Receives the result of an attempt that succeeded only after the deadline (e.g. to close a late connection). */
  discardLate?: (late: T) => unknown;
}

/**
 * One start-up's shared deadline: pass it to every step so the whole start-up is bounded.
 * `timeoutMs` undefined: env DURABLE_NATS_STARTUP_TIMEOUT_MS, else DEFAULT_STARTUP_TIMEOUT_MS.
 */
export function startupDeadline(timeoutMs: number | undefined, logger?: Logger): StartupRetryOptions {
  const env = process.env.DURABLE_NATS_STARTUP_TIMEOUT_MS;
  const ms = timeoutMs ?? (env ? Number(env) : DEFAULT_STARTUP_TIMEOUT_MS);
  if (!Number.isFinite(ms) || ms <= 0) throw new DurableError('validation', `startupTimeoutMs must be a positive number, got ${timeoutMs}`);
  return { deadline: Date.now() + ms, ...(logger ? { logger } : {}) };
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

class Expired extends Error {}

/**
 * Runs `fn` until it succeeds, retrying transient errors with capped exponential backoff and
 * jitter (100 ms doubling to 2 s, each delay 50-100% of its cap, so that processes started
 * together do not retry in lockstep), each retry logged at warn with the step's name.
 * An attempt still running at the deadline is abandoned (the caller closes the connection).
 *
 * @example
 * const startup = startupDeadline(30_000, logger);
 * await withStartupRetry('stream info DN_demo_IN', () => jsm.streams.info('DN_demo_IN'), startup);
 */
export async function withStartupRetry<T>(what: string, fn: () => Promise<T>, options: StepOptions<T> = {}): Promise<T> {
  const started = Date.now();
  const deadline = options.deadline ?? started + (options.timeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS);
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    try {
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Expired()), remaining);
      });
      const attemptP = fn();
      try {
        const value = await Promise.race([attemptP, expired]);
        options.logger?.debug({ step: what, attempts: attempt, ms: Date.now() - started }, 'start-up step done');
        return value;
      } catch (e) {
        if (e instanceof Expired && options.discardLate)
          attemptP.then(
            (late) => options.discardLate?.(late),
            () => undefined,
          );
        throw e;
      }
    } catch (e) {
      if (e instanceof Expired) break;
      const retryable = (options.classify ?? isRetryable)(e) || (options.retryAlso?.(e) ?? false);
      if (!retryable) {
        if (e instanceof DurableError) throw e;
        throw new DurableError('connection', `${what} failed: ${errorMessage(e)}`, { cause: e, details: { step: what, transient: false } });
      }
      lastError = e;
      const cap = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt - 1, 10));
      const delay = Math.min(Math.round(cap * (0.5 + Math.random() * 0.5)), Math.max(0, deadline - Date.now()));
      options.logger?.warn({ step: what, attempt, retryInMs: delay, err: errorMessage(e) }, 'start-up step failed transiently; retrying');
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    } finally {
      clearTimeout(timer);
    }
  }
  const elapsed = Date.now() - started;
  throw new DurableError('connection', `${what}: gave up after ${elapsed} ms (start-up deadline)${lastError === undefined ? '' : `; last error: ${errorMessage(lastError)}`}`, {
    ...(lastError === undefined ? {} : { cause: lastError }),
    details: { step: what, elapsedMs: elapsed },
  });
}
