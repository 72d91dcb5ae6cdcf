/**
 * Start-up against a NATS cluster that may still be forming: which nats.js errors are worth
 * waiting out (the retry loop itself is src/store/startup.ts, NATS-free).
 *
 * Invariant: a start-up step is retried only on errors that a forming or electing cluster
 * produces (timeouts, no responders, "no leader", JetStream not yet available), never on a
 * configuration or permission error, and never past the caller's deadline: then it fails with
 * DurableError('connection') naming the step and the last cause.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { errors as coreErrors, RequestError } from '@nats-io/transport-node';
import { DurableError } from '../core/errors.js';
import { causeChain as chain, FATAL_MESSAGE, TRANSIENT_MESSAGE, withStartupRetry as withRetry, type StepOptions } from './startup.js';

export { DEFAULT_STARTUP_TIMEOUT_MS, errorMessage, startupDeadline, type StartupRetryOptions, type StepOptions } from './startup.js';

/**
 * A start-up step of raw nats.js calls (connect, the JetStream probe): its errors are classified
 * by isTransient. Steps on the fabric port use src/store/startup.ts directly.
 */
export function withStartupRetry<T>(what: string, fn: () => Promise<T>, options: StepOptions<T> = {}): Promise<T> {
  return withRetry(what, fn, { classify: isTransient, ...options });
}

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
