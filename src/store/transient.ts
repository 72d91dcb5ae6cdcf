/**
 * Start-up against a NATS cluster that may still be forming: which errors are worth waiting out,
 * and one bounded retry loop for every start-up step (connect, streams, buckets, hub config,
 * catalog, consumers, the lease bucket's first reads).
 *
 * Invariant: a start-up step is retried only on errors that a forming or electing cluster
 * produces (timeouts, no responders, "no leader", JetStream not yet available), never on a
 * configuration or permission error, and never past the caller's deadline: then it fails with
 * DurableError('connection') naming the step and the last cause.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { errors as coreErrors, RequestError } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { DurableError } from '../core/errors.js';

/** Default bound of a whole start-up (Worker.start, DurableClient.connect, createHttpServer). */
export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;

/**
 * JetStream API error codes (nats-server errors.json) that a cluster returns while its meta
 * leader or a stream's leader is being elected, or while peers are still joining.
 */
const TRANSIENT_API_CODES = new Set([
  10004, // JSClusterIncompleteErr: incomplete results
  10005, // JSClusterNoPeersErr: no suitable peers for placement (peers not yet reported to a new meta leader)
  10006, // JSClusterNotActiveErr: JetStream not in clustered mode (yet)
  10007, // JSClusterNotAssignedErr: not assigned to this server (yet)
  10008, // JSClusterNotAvailErr: JetStream system temporarily unavailable
  10009, // JSClusterNotLeaderErr: cluster can not handle request (no leader)
  10039, // JSNotEnabledForAccountErr: seen on a server whose JetStream is still starting
  10076, // JSNotEnabledErr: JetStream not enabled (while starting / electing)
]);
/** 503 codes that are NOT transient: waiting does not free storage or account limits. */
const FATAL_503_CODES = new Set([
  10023, // JSInsufficientResourcesErr
]);

/** Stream or consumer create raced with another process that created it first. */
const ALREADY_EXISTS_CODES = new Set([
  10058, // JSStreamNameExistErr: stream name already in use (with a different configuration)
  10013, // JSConsumerNameExistErr: consumer name already in use
  10105, // JSConsumerExistingActiveErr: consumer already exists and is still active
  10148, // JSConsumerAlreadyExists: CREATE of an existing consumer with another config (newer servers)
]);

const TRANSIENT_MESSAGE =
  /\b(timeout|timed out|no responders|no leader|leader not (found|available)|temporarily unavailable|not (yet )?(enabled|available)|connection refused|ECONNREFUSED|ECONNRESET|EPIPE|incomplete results|no suitable peers)\b/i;
const FATAL_MESSAGE = /insufficient (storage )?resources|authorization|permissions? violation|authentication/i;

function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let cur = e, depth = 0; cur !== undefined && cur !== null && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) out.push(cur);
  return out;
}

/** The JetStream API error code of `e` (or of one of its causes), if any. */
export function apiErrorCode(e: unknown): number | undefined {
  for (const c of chain(e)) if (c instanceof JetStreamApiError) return c.code;
  return undefined;
}

/** True when a create failed because another process created the same stream/consumer first. */
export function isAlreadyExists(e: unknown): boolean {
  const code = apiErrorCode(e);
  if (code !== undefined) return ALREADY_EXISTS_CODES.has(code);
  return /already in use|already exists/i.test((e as Error)?.message ?? '');
}

/**
 * True for errors that an electing or forming JetStream cluster produces and that go away by
 * themselves: request timeouts, no responders (nats.js reports them as JetStreamNotEnabled), 503
 * "temporarily unavailable", "no leader", connection refused while nodes come up. False for
 * configuration errors, permissions, insufficient resources, and a connection we closed.
 */
export function isTransient(e: unknown): boolean {
  for (const c of chain(e)) {
    // A DurableError is final, except a 'connection' error that wraps the store's own error (the
    // fabric's: NatsFabric wraps every nats.js error with `cause`): that cause decides.
    if (c instanceof DurableError) {
      if (c.code === 'connection' && c.cause !== undefined) continue;
      return false;
    }
    if (c instanceof coreErrors.ClosedConnectionError || c instanceof coreErrors.DrainingConnectionError) return false;
    if (c instanceof coreErrors.AuthorizationError || c instanceof coreErrors.PermissionViolationError || c instanceof coreErrors.UserAuthenticationExpiredError) return false;
    if (c instanceof JetStreamApiError) {
      if (FATAL_503_CODES.has(c.code)) return false;
      return TRANSIENT_API_CODES.has(c.code) || c.status === 503 || c.status === 408;
    }
    if (c instanceof coreErrors.TimeoutError || c instanceof coreErrors.NoRespondersError) return true;
    if (c instanceof RequestError && c.isNoResponders()) return true;
    // Not exported from @nats-io/jetstream's public module: recognised by name. nats.js turns "no
    // responders" on the JetStream API into JetStreamNotEnabled, which an electing cluster gives.
    if (c instanceof Error && c.name === 'JetStreamNotEnabled') return true;
    if (c instanceof Error && c.name === 'JetStreamStatusError') return [408, 503].includes((c as Error & { code?: number }).code ?? 0);
    if (c instanceof coreErrors.ConnectionError) return !FATAL_MESSAGE.test(c.message);
  }
  const message = (e as Error)?.message ?? String(e);
  return TRANSIENT_MESSAGE.test(message) && !FATAL_MESSAGE.test(message);
}

/** The messages of `e` and its causes, joined: "jetstream is not enabled: no responders: '$JS.API.INFO'". */
export function errorMessage(e: unknown): string {
  const parts: string[] = [];
  for (const c of chain(e)) {
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
      const retryable = isTransient(e) || (options.retryAlso?.(e) ?? false);
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
