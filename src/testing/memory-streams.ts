/**
 * The in-memory JetStream of the test kit: streams (subject capture, per-stream sequences,
 * per-subject last sequence, dedupe window, fence, max age, per-subject limit, purge) and the
 * ordered followers that read them. Shared by every MemoryFabric handle of one MemoryStore.
 *
 * Invariants: the ones documented on the port (src/store/fabric.ts) for streams: a message is
 * stored whole or not at all; a fenced or duplicate publish changes nothing; sequences only grow;
 * time (dedupe window, max age) is the store's clock.
 */
import type { Clock } from '../core/clock.js';
import { DurableError } from '../core/errors.js';
import type { PubAck, PublishOptions, StoredMessage, StreamConfig } from '../store/fabric.js';
import { subjectMatches } from './subjects.js';

const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

interface Stored extends StoredMessage {
  at: number;
}

/** An ordered reader of one stream (a `follow`). */
interface Follower {
  filter: string;
  next: number;
  onMessage: (m: StoredMessage) => void | Promise<void>;
  busy: boolean;
  stopped: boolean;
}

export class MemoryStream {
  /** Live messages, sorted by seq. */
  readonly messages: Stored[] = [];
  /** Live sequences of each subject, ascending. */
  readonly bySubject = new Map<string, number[]>();
  lastSeq = 0;
  readonly #dedupe = new Map<string, { seq: number; at: number }>();
  readonly #followers = new Set<Follower>();
  /** Told of every stored message (work queues wake their pullers). */
  readonly listeners = new Set<() => void>();

  constructor(
    readonly config: StreamConfig,
    private readonly clock: Clock,
  ) {}

  captures(subject: string): boolean {
    return this.config.subjects.some((p) => subjectMatches(p, subject));
  }

  store(subject: string, data: Uint8Array, options: PublishOptions): PubAck {
    this.expire();
    const now = this.clock.now();
    const window = this.config.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    if (options.msgId !== undefined) {
      const seen = this.#dedupe.get(options.msgId);
      if (seen && now - seen.at < window) return { stream: this.config.name, seq: seen.seq, duplicate: true };
    }
    const expected = options.expectedLastSubjectSequence;
    if (expected !== undefined) {
      const last = this.lastOfSubject(subject);
      if (last !== expected) {
        throw new DurableError('fenced', `JetStream rejected publish to ${subject}: wrong last sequence: ${last}`, { details: { errCode: 10071, last, expected } });
      }
    }
    const seq = ++this.lastSeq;
    const headers = new Map<string, string>(Object.entries(options.headers ?? {}));
    if (options.msgId !== undefined) {
      headers.set('Nats-Msg-Id', options.msgId);
      this.#dedupe.set(options.msgId, { seq, at: now });
    }
    const m: Stored = { seq, subject, data: data.slice(), at: now, ...(headers.size ? { headers } : {}) };
    this.messages.push(m);
    const seqs = this.bySubject.get(subject) ?? [];
    seqs.push(seq);
    this.bySubject.set(subject, seqs);
    const limit = this.config.maxMsgsPerSubject;
    if (limit !== undefined && seqs.length > limit) this.remove(new Set(seqs.slice(0, seqs.length - limit)));
    this.#wake();
    return { stream: this.config.name, seq, duplicate: false };
  }

  lastOfSubject(subject: string): number {
    const seqs = this.bySubject.get(subject);
    return seqs?.[seqs.length - 1] ?? 0;
  }

  get(seq: number): StoredMessage | undefined {
    const i = this.#indexOf(seq);
    const m = this.messages[i];
    return m && m.seq === seq ? copy(m) : undefined;
  }

  /** The last message matching `filter`. */
  last(filter: string): StoredMessage | null {
    this.expire();
    if (!/[*>]/.test(filter)) {
      const seq = this.lastOfSubject(filter);
      return seq ? this.get(seq)! : null;
    }
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i]!;
      if (subjectMatches(filter, m.subject)) return copy(m);
    }
    return null;
  }

  /** The first live message matching `filter` with seq >= `from` and <= `until`. */
  next(filter: string, from: number, until = Number.POSITIVE_INFINITY): StoredMessage | undefined {
    this.expire();
    for (let i = this.#indexOf(from); i < this.messages.length; i++) {
      const m = this.messages[i]!;
      if (m.seq > until) return undefined;
      if (subjectMatches(filter, m.subject)) return copy(m);
    }
    return undefined;
  }

  count(filter: string, after: number): number {
    let n = 0;
    for (let i = this.#indexOf(after + 1); i < this.messages.length; i++) if (subjectMatches(filter, this.messages[i]!.subject)) n++;
    return n;
  }

  /** Removes what matches `filter` below `beforeSeq`, or all but its newest `keep` messages. */
  purge(filter: string | undefined, beforeSeq: number | undefined, keep?: number): number {
    const doomed: number[] = [];
    for (const m of this.messages) {
      if (beforeSeq !== undefined && m.seq >= beforeSeq) break;
      if (filter === undefined || subjectMatches(filter, m.subject)) doomed.push(m.seq);
    }
    if (keep !== undefined) doomed.splice(Math.max(0, doomed.length - keep));
    this.remove(new Set(doomed));
    return doomed.length;
  }

  /** First and last sequence (JetStream: first is last + 1 when empty) and live count. */
  info(): { firstSeq: number; lastSeq: number; messages: number } {
    this.expire();
    return { firstSeq: this.messages[0]?.seq ?? this.lastSeq + 1, lastSeq: this.lastSeq, messages: this.messages.length };
  }

  remove(seqs: ReadonlySet<number>): void {
    if (seqs.size === 0) return;
    for (const seq of seqs) {
      const list = this.#subjectOf(seq);
      if (!list) continue;
      const [subject, seqsOfSubject] = list;
      const rest = seqsOfSubject.filter((s) => s !== seq);
      if (rest.length) this.bySubject.set(subject, rest);
      else this.bySubject.delete(subject);
    }
    if (seqs.size <= 16) {
      // An ack or a KV overwrite removes one message: find it instead of rebuilding the array.
      for (const seq of seqs) {
        const i = this.#indexOf(seq);
        if (this.messages[i]?.seq === seq) this.messages.splice(i, 1);
      }
      return;
    }
    const kept = this.messages.filter((m) => !seqs.has(m.seq));
    this.messages.splice(0, this.messages.length, ...kept);
  }

  #subjectOf(seq: number): [string, number[]] | undefined {
    const m = this.messages[this.#indexOf(seq)];
    if (!m || m.seq !== seq) return undefined;
    const list = this.bySubject.get(m.subject);
    return list ? [m.subject, list] : undefined;
  }

  follow(filter: string, fromSeq: number, onMessage: Follower['onMessage']): () => void {
    const f: Follower = { filter, next: Math.max(1, fromSeq), onMessage, busy: false, stopped: false };
    this.#followers.add(f);
    this.#wake();
    return () => {
      f.stopped = true;
      this.#followers.delete(f);
    };
  }

  /**
   * Drops dedupe ids past the window and messages past max age (lazily, on the clock). Both are
   * kept in time order (the clock never goes back), so this costs only what it drops.
   */
  expire(): void {
    const now = this.clock.now();
    const window = this.config.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    for (const [id, d] of this.#dedupe) {
      if (now - d.at < window) break;
      this.#dedupe.delete(id);
    }
    const maxAge = this.config.maxAgeMs;
    if (maxAge === undefined) return;
    const old = new Set<number>();
    for (const m of this.messages) {
      if (now - m.at < maxAge) break;
      old.add(m.seq);
    }
    this.remove(old);
  }

  /**
   * Nothing to hand out: no wake-up queued, and every follower idle and caught up (the test kit's
   * idle detection). A follower waiting on its callback's promise (backpressure) is not quiet.
   */
  isQuiet(): boolean {
    if (this.#wakePending) return false;
    for (const f of this.#followers) {
      if (f.stopped) continue;
      if (f.busy || this.next(f.filter, f.next)) return false;
      f.next = Math.max(f.next, this.lastSeq + 1); // looked at: see #pump
    }
    return true;
  }

  #wakePending = false;

  #wake(): void {
    this.#wakePending = true;
    queueMicrotask(() => {
      this.#wakePending = false;
      for (const f of this.#followers) void this.#pump(f);
      for (const l of this.listeners) l();
    });
  }

  /** Delivers to one follower in order; the next message waits for the callback's promise. */
  async #pump(f: Follower): Promise<void> {
    if (f.busy) return;
    f.busy = true;
    try {
      for (;;) {
        if (f.stopped) return;
        const m = this.next(f.filter, f.next);
        if (!m) {
          // Nothing up to lastSeq matches: start the next look after it (sequences only grow), or
          // every message of other subjects would be looked at again at every wake (O(n^2)).
          f.next = Math.max(f.next, this.lastSeq + 1);
          return;
        }
        f.next = m.seq + 1;
        try {
          await f.onMessage(m);
        } catch {
          // A failing callback is the reader's problem, as with a NATS subscription; keep order.
        }
      }
    } finally {
      f.busy = false;
    }
  }

  /** Index of the first message with seq >= `seq`. */
  #indexOf(seq: number): number {
    let lo = 0;
    let hi = this.messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.messages[mid]!.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** A copy, so that a reader can never change what is stored. */
function copy(m: Stored): StoredMessage {
  return { seq: m.seq, subject: m.subject, data: m.data.slice(), time: m.at, ...(m.headers ? { headers: new Map(m.headers) } : {}) };
}
