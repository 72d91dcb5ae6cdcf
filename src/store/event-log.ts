/**
 * Reading actor events from the event stream: a bounded ordered scan of a subject filter (history
 * loads and partition recovery). The last event of one subject is read with a DIRECT.GET (NatsFabric.readLast).
 *
 * Invariant: reads never create durable server state (direct get, ephemeral ordered consumers).
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { DurableError } from '../core/errors.js';
import type { StoredMessage } from './fabric.js';

export type { StoredMessage } from './fabric.js';

/**
 * Calls `onMessage`, in order, for every message matching `filter` from `fromSeq` up to the last
 * one that exists when the scan starts (or up to `untilSeq` when the caller knows it), and
 * returns the last sequence seen (0 if none).
 *
 * The end is found by sequence (the leader's last message for the filter; wildcards work), not by the
 * consumer's pending count: on 2.9 a filtered consumer's num_pending can overcount, and a scan
 * waiting for "pending 0" would wait forever. A deadline bounds the scan in any case.
 */
export async function scan(
  conn: { js: JetStreamClient; jsm: JetStreamManager },
  stream: string,
  filter: string,
  fromSeq: number,
  onMessage: (m: StoredMessage) => void | Promise<void>,
  options: { untilSeq?: number; deadlineMs?: number } = {},
): Promise<number> {
  // The end is asked of the stream leader: on a replicated stream DIRECT.GET may be answered by a
  // replica that is behind, and a scan ending there would return a truncated history.
  const until =
    options.untilSeq ??
    (
      await conn.jsm.streams.getMessage(stream, { last_by_subj: filter }).catch((e) => {
        if (/no message found|not found/i.test((e as Error).message)) return null;
        throw new DurableError('connection', `reading ${filter}: ${(e as Error).message}`, { cause: e });
      })
    )?.seq ??
    0;
  if (until < fromSeq) return 0;
  const consumer = await conn.js.consumers.get(stream, {
    filter_subjects: filter,
    ...(fromSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq } : { deliver_policy: DeliverPolicy.All }),
  });
  const deadlineMs = options.deadlineMs ?? 60_000;
  const iter = await consumer.consume({ max_messages: 1000 });
  let timedOut = false;
  const watchdog = setTimeout(() => {
    timedOut = true;
    iter.stop();
  }, deadlineMs);
  let last = 0;
  try {
    for await (const m of iter) {
      if (m.seq > until) break;
      const headers = m.headers ? new Map([...m.headers].map(([k, v]) => [k, v[0] ?? ''])) : undefined;
      await onMessage({ seq: m.seq, subject: m.subject, data: m.data, ...(headers ? { headers } : {}) });
      last = m.seq;
      if (m.seq >= until) break;
    }
  } finally {
    clearTimeout(watchdog);
    iter.stop();
    await consumer.delete().catch(() => undefined);
  }
  if (timedOut && last < until) throw new DurableError('timeout', `scan of ${filter} did not reach sequence ${until} in ${deadlineMs} ms`);
  return last;
}
