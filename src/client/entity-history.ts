/**
 * Entity history, time travel and live state, read from the entity's event subject (every event
 * is a full snapshot of one committed version; its stream sequence is the version, its stored
 * timestamp the version's time).
 *
 * Everything goes through the fabric port: `readLast`/`readNext` (NATS: DIRECT.GET, stored time
 * included), `streamInfo`, `follow`.
 *
 * Invariants: reads never create durable server state (direct gets; the watch's follow is an
 * ephemeral ordered consumer); a watch never misses a version: it reads the current version from
 * the stream leader, then follows the subject from the next sequence on (a follow starts from a
 * sequence, so nothing committed in between is lost: ARCHITECTURE "Watch without a gap").
 */
import { decodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import type { RecordedOperation } from '../entity/executor.js';
import type { Fabric, StoredMessage } from '../store/fabric.js';
import type { EntityEvent } from '../worker/entity-host.js';

/** One committed version of an entity. */
export interface EntityVersion<S = unknown> {
  version: number;
  time: Date;
  exists: boolean;
  state?: S;
}

export interface EntityHistoryEntry<S = unknown> extends EntityVersion<S> {
  /** The operations applied in this version, in order. `inputBytes` replaces an input too large to keep. */
  operations: Array<{ op: string; input?: unknown; inputBytes?: number }>;
}

export interface EntityHistoryOptions {
  /** First version to return (inclusive); with `reverse`, the newest one. */
  fromVersion?: number;
  /** Versions per page (default 100, at most 1000). */
  limit?: number;
  /** Newest first. */
  reverse?: boolean;
}

export interface EntityHistoryPage<S = unknown> {
  versions: EntityHistoryEntry<S>[];
  /** `fromVersion` of the next page, when there may be more. */
  next?: number;
}

interface StoredVersion {
  seq: number;
  subject: string;
  time: Date;
  data: Uint8Array;
}

/** Reads of one hub's event stream. */
export class EntityHistoryReader {
  constructor(
    private readonly fabric: Fabric,
    private readonly stream: string,
  ) {}

  /** The version `version` of `subject`; `not-found` when that sequence is not an event of this entity. */
  async atVersion<S>(subject: string, version: number): Promise<EntityVersion<S>> {
    if (!Number.isSafeInteger(version) || version < 1) throw new DurableError('validation', 'version must be a positive integer');
    const m = await this.get({ seq: version, next_by_subj: subject });
    if (!m || m.seq !== version) throw new DurableError('not-found', `version ${version} of this entity is not kept`);
    return toVersion<S>(m);
  }

  /**
   * The last version at or before `at`. Round trips: 1 when the current version is old enough;
   * otherwise ~log2(stream length) direct gets to find the stream position of `at` (timestamps
   * grow with the sequence), plus the backward search of latestAtOrBefore.
   */
  async atTime<S>(subject: string, at: Date): Promise<EntityVersion<S>> {
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new DurableError('validation', '`at` must be a valid Date');
    const last = await this.get({ last_by_subj: subject });
    if (!last) throw new DurableError('not-found', 'this entity has no version');
    if (last.time.getTime() <= at.getTime()) return toVersion<S>(last);
    const bound = await this.lastSeqAtOrBefore(at, last.seq);
    const found = bound > 0 ? await this.latestAtOrBefore(subject, bound) : undefined;
    if (!found) throw new DurableError('not-found', `no version of this entity at or before ${at.toISOString()} is kept`);
    return toVersion<S>(found);
  }

  /** A page of versions with the operations each applied. */
  async history<S>(subject: string, options: EntityHistoryOptions = {}): Promise<EntityHistoryPage<S>> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new DurableError('validation', 'limit must be an integer in 1..1000');
    const from = options.fromVersion;
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 1)) throw new DurableError('validation', 'fromVersion must be a positive integer');
    let found: StoredVersion[];
    let next: number | undefined;
    if (options.reverse) {
      const upper = from ?? (await this.get({ last_by_subj: subject }))?.seq ?? 0;
      found = upper > 0 ? await this.latestN(subject, upper, limit + 1) : [];
      if (found.length > limit) {
        next = found[limit]!.seq;
        found = found.slice(0, limit);
      }
    } else {
      // One direct get per version (next_by_subj), plus one to know whether there is more.
      found = [];
      let seq = from ?? 1;
      while (found.length <= limit) {
        const m = await this.get({ seq, next_by_subj: subject });
        if (!m) break;
        found.push(m);
        seq = m.seq + 1;
      }
      if (found.length > limit) {
        next = found[limit]!.seq;
        found = found.slice(0, limit);
      }
    }
    return { versions: found.map((m) => toEntry<S>(m)), ...(next !== undefined ? { next } : {}) };
  }

  /**
   * The current version, then every committed version in order, until `signal` aborts.
   * Pushed by a follow of the subject from the version after the current one (no polling).
   */
  async *watch<S>(subject: string, signal?: AbortSignal): AsyncGenerator<EntityVersion<S>> {
    if (signal?.aborted) return;
    // The leader: a replica behind would make the follow start at a version already replaced.
    const current = await this.fabric.readLast(this.stream, subject, { leader: true });
    if (current) yield toVersion<S>(stored(current));
    else yield { version: 0, time: new Date(0), exists: false };
    if (signal?.aborted) return;
    // Backpressure: the follow waits for each version to be taken before it delivers the next.
    const queue: Array<{ m: StoredMessage; taken: () => void }> = [];
    let wake: (() => void) | undefined;
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    const follow = await this.fabric.follow(
      this.stream,
      subject,
      (current?.seq ?? 0) + 1,
      (m) =>
        new Promise<void>((taken) => {
          queue.push({ m, taken });
          wake?.();
        }),
    );
    try {
      while (!signal?.aborted) {
        const next = queue.shift();
        if (!next) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        const { m, taken } = next;
        taken();
        // A follow may deliver no stored time: read it (the version's time is when it was stored).
        const time = m.time ?? (await this.fabric.readNext(this.stream, subject, m.seq))?.time ?? 0;
        yield toVersion<S>({ seq: m.seq, subject: m.subject, time: new Date(time), data: m.data });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      follow.stop();
      for (const q of queue) q.taken(); // nothing waits on a stopped follow
    }
  }

  /** The newest event of `subject` with sequence <= upper. */
  private async latestAtOrBefore(subject: string, upper: number): Promise<StoredVersion | undefined> {
    return (await this.latestN(subject, upper, 1))[0];
  }

  /**
   * The `n` newest events of `subject` with sequence <= upper, newest first. JetStream 2.9 has no
   * "previous by subject", so this scans forward (next_by_subj) over a window below `upper` that
   * doubles until it holds n events or reaches the stream's start: round trips = events found in
   * the windows + one per window (log2 of the distance for a rarely written entity).
   */
  private async latestN(subject: string, upper: number, n: number): Promise<StoredVersion[]> {
    let window = Math.max(64, n * 4);
    for (;;) {
      const start = Math.max(1, upper - window + 1);
      const inWindow: StoredVersion[] = [];
      let seq = start;
      for (;;) {
        const m = await this.get({ seq, next_by_subj: subject });
        if (!m || m.seq > upper) break;
        inWindow.push(m);
        if (inWindow.length > n) inWindow.shift(); // keep the newest n
        seq = m.seq + 1;
      }
      if (inWindow.length >= n || start === 1) return inWindow.reverse();
      window *= 4;
    }
  }

  /** The last stream sequence (any subject) stored at or before `at`, by binary search (0 if none). */
  private async lastSeqAtOrBefore(at: Date, hi: number): Promise<number> {
    const info = await this.fabric.streamInfo(this.stream);
    let lo = info.firstSeq;
    let best = 0;
    const t = at.getTime();
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = await this.get({ seq: mid, next_by_subj: '>' });
      if (!m || m.seq > hi) {
        hi = mid - 1;
        continue;
      }
      if (m.time.getTime() <= t) {
        best = m.seq;
        lo = m.seq + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /** `{ last_by_subj }`: the subject's last message; `{ seq, next_by_subj }`: the first at or after `seq`. */
  private async get(request: { last_by_subj: string } | { seq: number; next_by_subj: string }): Promise<StoredVersion | null> {
    const m =
      'last_by_subj' in request ? await this.fabric.readLast(this.stream, request.last_by_subj) : await this.fabric.readNext(this.stream, request.next_by_subj, request.seq);
    return m ? stored(m) : null;
  }
}

function stored(m: StoredMessage): StoredVersion {
  return { seq: m.seq, subject: m.subject, time: new Date(m.time ?? 0), data: m.data };
}

function toVersion<S>(m: StoredVersion): EntityVersion<S> {
  const ev = decodeJson<EntityEvent>(m.data);
  return ev.ex === 1 ? { version: m.seq, time: m.time, exists: true, state: ev.st as S } : { version: m.seq, time: m.time, exists: false };
}

function toEntry<S>(m: StoredVersion): EntityHistoryEntry<S> {
  const ev = decodeJson<EntityEvent>(m.data);
  return { ...toVersion<S>(m), operations: (ev.o ?? []).flatMap(fromRecorded) };
}

/** Expands one recorded entry (see RecordedOperation) into the operations it stands for. */
function fromRecorded(r: RecordedOperation): Array<{ op: string; input?: unknown; inputBytes?: number }> {
  if (typeof r[0] === 'number') {
    const op = { op: r[1] as string, ...(r.length === 3 ? { input: r[2] } : {}) };
    return Array.from({ length: Math.min(r[0], 1_000_000) }, () => ({ ...op }));
  }
  if (r.length === 1) return [{ op: r[0] }];
  if (r.length === 3) return [{ op: r[0], inputBytes: r[2] as number }];
  return [{ op: r[0], input: r[1] }];
}
