/**
 * Reading actor events from the event stream: the last event of one subject by direct get
 * (one round trip, the common load path), and a bounded ordered scan of a subject filter (history
 * loads and partition recovery).
 *
 * Invariant: reads never create durable server state (direct get, ephemeral ordered consumers).
 */
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';

export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers?: Map<string, string>;
}

/** The newest message on `subject`, or null. Uses the DIRECT.GET API (stream needs allow_direct). */
export async function readLast(nc: NatsConnection, stream: string, subject: string, timeoutMs = 5_000): Promise<StoredMessage | null> {
  let msg;
  try {
    msg = await nc.request(`$JS.API.DIRECT.GET.${stream}`, encodeJson({ last_by_subj: subject }), { timeout: timeoutMs });
  } catch (e) {
    throw new DurableError('connection', `reading ${subject}: ${(e as Error).message}`, { cause: e });
  }
  const h = msg.headers;
  if (!h || h.code === 404) return null;
  if (h.code && h.code >= 400) throw new DurableError('connection', `reading ${subject}: ${h.code} ${h.description}`);
  const seq = Number(h.get('Nats-Sequence'));
  return { seq, subject: h.get('Nats-Subject') || subject, data: msg.data };
}

/**
 * Calls `onMessage` for every message matching `filter` with sequence >= fromSeq that exists when
 * the scan starts, in order, then returns the last sequence seen (0 if none).
 */
export async function scan(
  js: JetStreamClient,
  stream: string,
  filter: string,
  fromSeq: number,
  onMessage: (m: StoredMessage) => void | Promise<void>,
  deadlineMs = 60_000,
): Promise<number> {
  const consumer = await js.consumers.get(stream, {
    filter_subjects: filter,
    ...(fromSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq } : { deliver_policy: DeliverPolicy.All }),
  });
  const info = await consumer.info(true);
  let remaining = info.num_pending;
  let last = 0;
  if (remaining === 0) {
    await consumer.delete().catch(() => undefined);
    return 0;
  }
  const deadline = Date.now() + deadlineMs;
  const iter = await consumer.consume({ max_messages: 1000 });
  try {
    for await (const m of iter) {
      const headers = m.headers ? new Map([...m.headers].map(([k, v]) => [k, v[0] ?? ''])) : undefined;
      await onMessage({ seq: m.seq, subject: m.subject, data: m.data, ...(headers ? { headers } : {}) });
      last = m.seq;
      remaining = m.info.pending;
      if (remaining === 0) break;
      if (Date.now() > deadline) throw new DurableError('timeout', `scan of ${filter} did not finish in ${deadlineMs} ms`);
    }
  } finally {
    iter.stop();
    await consumer.delete().catch(() => undefined);
  }
  return last;
}
