/**
 * nats.js errors as DurableErrors, for every NATS module of the fabric: the fence and a stale KV
 * revision (JetStream error 10071, "wrong last sequence") as `fenced`, anything else as
 * `connection` with `details.transient` telling a forming or electing cluster's errors (retried
 * by start-up steps, src/store/startup.ts) from final ones.
 */
import { DurableError } from '../core/errors.js';
import { isTransient } from './transient.js';

/** Any error from nats.js as a DurableError; the fence and stale revisions as `fenced`. */
export function asDurable(e: unknown, what: string): DurableError {
  if (e instanceof DurableError) return e;
  const message = (e as Error)?.message ?? String(e);
  const code = /wrong last sequence|10071/i.test(message) ? 'fenced' : 'connection';
  // `transient`: what a forming or electing cluster says (timeouts, no leader, no responders):
  // start-up steps on the port (src/store/startup.ts) retry those until their deadline.
  return new DurableError(code, `${what}: ${message}`, { cause: e, details: { transient: code === 'connection' && isTransient(e) } });
}
