/**
 * The contract between a partition's batch loop and the hosts of each actor kind (entities,
 * orchestrations). A host turns one actor's messages of a batch into a CommitPlan; the batch
 * committer appends every plan's event (fenced), then the partition publishes effects, then replies.
 *
 * The contract, both ways:
 * - a plan's effects are recorded inside its event, so that whoever recovers the partition after a
 *   crash can publish them again (with the same dedupe ids);
 * - `prepare` may advance the host's cached view of the actor in memory (an orchestration's live
 *   generator does), but `committed` is the only point where that view becomes the truth;
 * - after any failed or uncertain commit of an actor (fenced, no PubAck, a throwing `prepare`,
 *   the lease lost before the append), the committer calls `invalidate(actor)` before anyone
 *   prepares that actor again: the host must then reload it from the store;
 * - `prepare` skips messages at or below the actor's recorded `in` sequence, so a batch retried
 *   after a partial failure re-applies nothing.
 */
import type { TraceHeaders } from '../core/tracing.js';
import type { LocalActivitySlot, OwedRef } from './local-activities.js';

/** A message read from a partition's inbox. */
export interface InboxMessage {
  seq: number;
  subject: string;
  /** Subject suffix after '<hub>.in.<p>.': 'e.<name>.<key>', 'o.<id>' or 't'. */
  actorToken: string;
  data: Uint8Array;
  msgId?: string;
  /** W3C trace context from the message's headers (`traceparent`), when the producer sent one. */
  trace?: TraceHeaders;
  /**
   * Set on an activity result handed over in memory by a local run (src/worker/local-activities.ts):
   * it was never in the inbox, so `seq` means nothing (hosts neither skip it by `seq` nor record
   * its `seq`; the instance ignores a second result of the same task). Names the owed effect.
   */
  local?: OwedRef;
  /**
   * The body, already decoded: one entity's share of a partition batch (`{ b: [...] }`, split by
   * the partition's router). Hosts read it instead of `data`; it is what a dead letter stores.
   */
  decoded?: unknown;
}

/** A publish to do after commit (or again during recovery). `d` is JSON; absent = empty payload. */
export interface ResolvedEffect {
  s: string;
  d?: unknown;
  id?: string;
  h?: Record<string, string>;
  /**
   * Set on status writes: the position in the actor's history it reflects (also stored in the
   * record as `_v`), so that a writer that lost its lease never overwrites a later status.
   */
  v?: number;
}

export interface Reply {
  subject: string;
  data: Uint8Array;
}

export interface DeadLetterRecord {
  seq: number;
  subject: string;
  data: Uint8Array;
  reason: string;
  /** Which of several records parked from one message (a batch's signals): part of the dedupe id. */
  part?: number;
}

export interface CommitPlan {
  // `effects` are recorded in the event's `fx` in this order (recovery finds an owed effect by its index).
  /**
   * The event to append, as one or more parts (a record larger than a message is split; every
   * part but the last says `more: true`, and readers ignore an unfinished group). Parts are
   * appended in order, each fenced on the one before. Absent when nothing durable changed.
   * `presumedNew`: prepared as a new actor without reading the store; a fence failure then only
   * means it was not new (not another writer: not counted as one).
   */
  append?: { subject: string; expectedLastSeq: number; parts: Uint8Array[]; presumedNew?: true };
  effects: ResolvedEffect[];
  replies: Reply[];
  deadLetters: DeadLetterRecord[];
  /** Called with the last part's stream sequence once appended (0 when there was nothing to append) and the first part's. */
  committed(eventSeq: number, firstSeq: number): void;
  /**
   * Retention: trim the actor's event subject to its newest `keep` messages once this batch is
   * durable (every message removed is then older than a committed batch whose effects are durable).
   */
  trim?: { subject: string; keep: number };
  /** Runs after effects are durable (e.g. trimming history after continueAsNew). */
  afterCommit?: () => Promise<void>;
  /** Applied operations, for metrics. */
  applied: number;
  /** Effects (by index) already claimed for a local run while preparing (eager activities). */
  claims?: Map<number, LocalActivitySlot>;
}

export interface ActorHost {
  prepare(partition: number, actorToken: string, messages: InboxMessage[]): Promise<CommitPlan>;
  /** Forget cached state of an actor (fence failure) or of everything (lease loss). */
  invalidate(actorToken?: string): void;
}

/** Room under max_payload for headers and the record's own fields. */
const PART_HEADROOM = 16 * 1024;

/**
 * Encodes a record of `h` (history events) and `fx` (effects) plus small `fields`, split into
 * parts that each fit in one message. Every part but the last carries `more: true`; `first`
 * fields go on the first part only, `fields` on every part.
 */
export function encodeRecordParts(
  items: { h?: unknown[]; fx?: ResolvedEffect[] },
  fields: Record<string, unknown>,
  first: Record<string, unknown>,
  maxPayload: number,
  encode: (v: unknown) => Uint8Array,
): Uint8Array[] {
  const whole = encode({ ...fields, ...first, ...(items.h ? { h: items.h } : {}), ...(items.fx?.length ? { fx: items.fx } : {}) });
  const budget = Math.max(64 * 1024, maxPayload - PART_HEADROOM);
  if (whole.length <= budget) return [whole];
  const parts: Array<{ h: unknown[]; fx: ResolvedEffect[] }> = [];
  let current = { h: [] as unknown[], fx: [] as ResolvedEffect[] };
  let size = 0;
  const add = (kind: 'h' | 'fx', item: unknown) => {
    const n = JSON.stringify(item).length + 1;
    if (size + n > budget && (current.h.length || current.fx.length)) {
      parts.push(current);
      current = { h: [], fx: [] };
      size = 0;
    }
    (current[kind] as unknown[]).push(item);
    size += n;
  };
  for (const e of items.h ?? []) add('h', e);
  for (const f of items.fx ?? []) add('fx', f);
  parts.push(current);
  return parts.map((p, i) =>
    encode({
      ...fields,
      ...(i === 0 ? first : {}),
      ...(items.h ? { h: p.h } : {}),
      ...(p.fx.length ? { fx: p.fx } : {}),
      ...(i < parts.length - 1 ? { more: true } : {}),
    }),
  );
}
