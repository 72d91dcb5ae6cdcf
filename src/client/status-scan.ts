/**
 * Listing instances in one pass over the status bucket's stream (`KV_<bucket>`), through the
 * fabric's ordered `scan` from a cursor (the last stream sequence served), reading records in
 * bulk, instead of listing every key and then getting each one (a round trip per instance).
 *
 * Invariants:
 * - never waits for the stream to be quiet: the pass is bounded by the stream's last sequence
 *   when it starts (plus a few short chases of what was written meanwhile) and by a deadline on
 *   the fabric's clock, so statuses being rewritten all the time cannot stall it;
 * - within one page an instance appears once, with its newest status: the bucket keeps one
 *   record per key (history 1), so a rewrite moves the instance's record to the end of the
 *   stream, where the same pass may meet it again;
 * - the cursor only moves forward and a record at or before it is never read again, so paging
 *   with it ends; an instance whose status is rewritten after its page was served is met again
 *   further on (with the newer status): across pages an instance that exists throughout the
 *   listing appears at least once, and more than once only if it changed meanwhile.
 */
import { DurableError } from '../core/errors.js';
import type { Hub } from '../store/hub.js';
import { decodeStatusEntry, type OrchestrationStatus } from './status.js';

/** Rounds of reading what was written while the pass ran, before it stops at the end. */
const CHASE_ROUNDS = 3;
const DEFAULT_DEADLINE_MS = 30_000;

export interface StatusPage {
  statuses: OrchestrationStatus[];
  /** Stream sequence of the last record read: where the next page starts. */
  cursor: number;
  /** True when the page filled up before the end of the stream: there may be more. */
  more: boolean;
}

/** Thrown from the scan callback to end the pass once the page is full (never leaves this module). */
const PAGE_FULL = new DurableError('validation', 'status page full');

/**
 * Up to `limit` statuses that `accept` keeps, read after stream sequence `after`.
 * `limit` = Infinity reads to the end (purge).
 */
export async function scanStatuses(
  hub: Hub,
  after: number,
  limit: number,
  accept: (s: OrchestrationStatus) => boolean,
  options: { deadlineMs?: number } = {},
): Promise<StatusPage> {
  const fabric = hub.fabric;
  const stream = `KV_${hub.names.statusBucket}`;
  const filter = `$KV.${hub.names.statusBucket}.>`;
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const deadline = fabric.clock.now() + deadlineMs;
  const lastSeq = async () => {
    try {
      return (await fabric.streamInfo(stream)).lastSeq;
    } catch (e) {
      throw new DurableError('connection', `reading the status stream ${stream}: ${(e as Error).message}`, { cause: e });
    }
  };
  let until = await lastSeq();
  if (until <= after) return { statuses: [], cursor: after, more: false };

  const found = new Map<string, OrchestrationStatus>();
  let cursor = after;
  let more = false;
  const onRecord = (m: { seq: number; subject: string; data: Uint8Array; headers?: Map<string, string> }) => {
    cursor = m.seq;
    // Keyed by subject (one per instance): a record met again (rewritten during the pass)
    // replaces the first; a purge met later removes it.
    const op = m.headers?.get('KV-Operation');
    const status = op === 'DEL' || op === 'PURGE' || m.data.length === 0 ? undefined : decodeStatusEntry(m.data).status;
    if (status && accept(status)) found.set(m.subject, status);
    else found.delete(m.subject);
    if (found.size >= limit) {
      more = true;
      throw PAGE_FULL;
    }
  };
  const timedOut = () => new DurableError('timeout', `listing statuses did not finish within ${deadlineMs} ms`);
  for (let chases = 0; ; chases++) {
    const left = deadline - fabric.clock.now();
    if (left <= 0) throw timedOut();
    try {
      await fabric.scan(stream, filter, cursor + 1, onRecord, { untilSeq: until, deadlineMs: left });
    } catch (e) {
      if (e === PAGE_FULL) break;
      if (DurableError.is(e, 'timeout')) throw timedOut();
      throw e;
    }
    cursor = Math.max(cursor, until);
    // The end of the pass: read on over what was written meanwhile (instances whose record
    // moved past the end before the pass met it), a bounded number of times.
    if (chases >= CHASE_ROUNDS) break;
    const now = await lastSeq();
    if (now <= until) break;
    until = now;
  }
  return { statuses: [...found.values()], cursor, more };
}

/** The continuation token: the cursor, opaque to callers (base64url of `c<seq>`). */
export function encodeCursor(seq: number): string {
  return Buffer.from(`c${seq}`).toString('base64url');
}

export function decodeCursor(token: string): number {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const n = text.startsWith('c') ? Number(text.slice(1)) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new DurableError('validation', 'malformed continuationToken');
  return n;
}
