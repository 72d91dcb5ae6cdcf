/**
 * The in-memory fabric: the port of src/store/fabric.ts with JetStream's semantics and no
 * socket, no NATS import. A MemoryStore is the "server" (streams, durable consumers, core
 * subscriptions, the clock); each MemoryFabric is one connection to it, so a test can run several
 * workers and clients against one store, close one of them, and keep what was committed.
 *
 * Invariants: those of the port (fabric.ts), checked by test/contract/fabric-contract.ts against
 * this fabric and against NATS. Deliveries (core messages, follows, watches) are asynchronous
 * (a microtask later), never inside the publisher's call, as on a real connection.
 */
import { type Clock, systemClock } from '../core/clock.js';
import { DurableError } from '../core/errors.js';
import type { CoreMessage, Fabric, KvBucket, KvChange, KvEntry, PubAck, PublishOptions, ScanOptions, Stoppable, StoredMessage, StreamConfig, WorkQueue } from '../store/fabric.js';
import { MemoryStream } from './memory-streams.js';
import { MemoryWorkQueue } from './memory-work-queue.js';
import { isValidSubject, subjectMatches } from './subjects.js';

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const KV_OPERATION = 'KV-Operation';

interface Subscription {
  pattern: string;
  onMessage: (m: CoreMessage) => void;
}

/**
 * The shared state of one in-memory deployment.
 * @example
 * const store = new MemoryStore({ clock: new VirtualClock() });
 * const worker = store.connect(); const client = store.connect();
 */
export class MemoryStore {
  readonly clock: Clock;
  readonly maxPayload: number;
  readonly streams = new Map<string, MemoryStream>();
  readonly queues = new Map<string, MemoryWorkQueue>();
  readonly subscriptions = new Set<Subscription>();
  #inboxes = 0;

  /**
   * Clock of pull expiries (a work-queue `fetch` that ends empty after `expiresMs`). Default: the
   * store's clock. A pull's expiry is transport, not engine time: the TestHost gives the system
   * clock here, or every activity puller's 5 s long poll would be a timer that time skipping has
   * to step through (a 30-day skip would stop 500,000 times).
   */
  readonly pullClock: Clock;

  constructor(options: { clock?: Clock; maxPayload?: number; pullClock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
    this.pullClock = options.pullClock ?? this.clock;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  }

  connect(): MemoryFabric {
    return new MemoryFabric(this);
  }

  /** Drops the store: redelivery timers stop and waiting pulls end empty (the data stays readable). */
  close(): void {
    for (const q of this.queues.values()) q.close();
    this.subscriptions.clear();
  }

  nextInbox(): string {
    return `_INBOX.mem${++this.#inboxes}`;
  }

  streamFor(subject: string): MemoryStream | undefined {
    for (const s of this.streams.values()) if (s.captures(subject)) return s;
    return undefined;
  }

  stream(name: string): MemoryStream {
    const s = this.streams.get(name);
    if (!s) throw new DurableError('connection', `stream ${name} not found`);
    return s;
  }

  /** Core deliveries queued and not yet made. */
  #deliveries = 0;

  /**
   * Nothing in motion inside the store: no core delivery queued, every follow caught up, no work
   * item out for processing. What is left waits on the clock (the test kit's idle detection).
   */
  isQuiet(): boolean {
    if (this.#deliveries > 0) return false;
    for (const s of this.streams.values()) if (!s.isQuiet()) return false;
    for (const q of this.queues.values()) if (!q.isQuiet()) return false;
    return true;
  }

  /** Core delivery of a message to every matching subscription, a microtask later. */
  deliver(m: CoreMessage): void {
    const targets = [...this.subscriptions].filter((s) => subjectMatches(s.pattern, m.subject));
    if (targets.length === 0) return;
    this.#deliveries++;
    queueMicrotask(() => {
      this.#deliveries--;
      for (const t of targets) {
        if (!this.subscriptions.has(t)) continue;
        try {
          t.onMessage({ ...m, data: m.data.slice(), ...(m.headers ? { headers: new Map(m.headers) } : {}) });
        } catch {
          // A throwing subscriber does not stop delivery to the others (as with nats.js callbacks).
        }
      }
    });
  }
}

/** One connection to a MemoryStore. */
export class MemoryFabric implements Fabric {
  readonly clock: Clock;
  readonly maxPayload: number;
  #closed = false;
  readonly #owned = new Set<Stoppable>();

  /** A fabric on a store of its own, or a new connection to `store`. */
  constructor(store: MemoryStore | { clock?: Clock; maxPayload?: number; pullClock?: Clock } = {}) {
    this.store = store instanceof MemoryStore ? store : new MemoryStore(store);
    this.clock = this.store.clock;
    this.maxPayload = this.store.maxPayload;
  }

  readonly store: MemoryStore;

  /** Another connection to the same store. */
  connect(): MemoryFabric {
    return this.store.connect();
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    this.#open();
    if (this.store.streams.has(config.name)) return;
    for (const p of config.subjects) {
      if (!isValidSubject(p, true)) throw new DurableError('validation', `stream ${config.name}: invalid subject '${p}'`);
      for (const other of this.store.streams.values()) {
        if (other.config.subjects.some((q) => subjectMatches(q, p) || subjectMatches(p, q))) {
          throw new DurableError('connection', `stream ${config.name}: subjects overlap with stream ${other.config.name}`);
        }
      }
    }
    this.store.streams.set(config.name, new MemoryStream({ ...config, subjects: [...config.subjects] }, this.clock));
  }

  async publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PubAck> {
    this.#open();
    this.#check(subject, data);
    const stream = this.store.streamFor(subject);
    if (!stream) throw new DurableError('connection', `no JetStream stream captures '${subject}' (is the hub created?)`);
    const ack = stream.store(subject, data, options);
    if (!ack.duplicate) {
      const stored = stream.get(ack.seq)!;
      this.store.deliver({ subject, data: stored.data, ...(stored.headers ? { headers: stored.headers } : {}) });
    }
    return ack;
  }

  /** One copy of the data: every read is the leader's. */
  async readLast(stream: string, filter: string, _options?: { leader?: boolean }): Promise<StoredMessage | null> {
    this.#open();
    return this.store.stream(stream).last(filter);
  }

  async scan(stream: string, filter: string, fromSeq: number, onMessage: (m: StoredMessage) => void | Promise<void>, options: ScanOptions = {}): Promise<number> {
    this.#open();
    const s = this.store.stream(stream);
    const until = options.untilSeq ?? s.last(filter)?.seq ?? 0;
    let last = 0;
    for (let m = s.next(filter, Math.max(1, fromSeq), until); m; m = s.next(filter, m.seq + 1, until)) {
      await onMessage(m);
      last = m.seq;
    }
    return last;
  }

  async follow(stream: string, filter: string, fromSeq: number, onMessage: (m: StoredMessage) => void | Promise<void>): Promise<Stoppable> {
    this.#open();
    const stop = this.store.stream(stream).follow(filter, fromSeq, onMessage);
    return this.#own({ stop });
  }

  async readNext(stream: string, filter: string, fromSeq: number): Promise<StoredMessage | null> {
    this.#open();
    return this.store.stream(stream).next(filter, Math.max(1, fromSeq)) ?? null;
  }

  async streamInfo(stream: string): Promise<{ firstSeq: number; lastSeq: number; messages: number }> {
    this.#open();
    return this.store.stream(stream).info();
  }

  async purge(stream: string, options: { filter?: string; beforeSeq?: number; keep?: number } = {}): Promise<number> {
    this.#open();
    if (options.keep !== undefined && options.beforeSeq !== undefined) throw new DurableError('validation', 'purge takes keep or beforeSeq, not both');
    return this.store.stream(stream).purge(options.filter, options.beforeSeq, options.keep);
  }

  async deleteMessage(stream: string, seq: number): Promise<boolean> {
    this.#open();
    const s = this.store.stream(stream);
    if (!s.get(seq)) return false;
    s.remove(new Set([seq]));
    return true;
  }

  async workQueue(stream: string, name: string, options: { filter?: string; ackWaitMs: number }): Promise<WorkQueue> {
    this.#open();
    const s = this.store.stream(stream);
    const key = `${stream}/${name}`;
    let q = this.store.queues.get(key);
    if (q) q.options = { ...q.options, ackWaitMs: options.ackWaitMs };
    else this.store.queues.set(key, (q = new MemoryWorkQueue(s, name, { filter: options.filter ?? '>', ackWaitMs: options.ackWaitMs }, this.clock, this.store.pullClock)));
    const queue = q;
    // The durable is the store's; open fetches are this connection's and end when it closes.
    return {
      fetch: (max, o = {}) => {
        const ac = new AbortController();
        const onAbort = () => ac.abort();
        o.signal?.addEventListener('abort', onAbort, { once: true });
        if (o.signal?.aborted) ac.abort();
        const owned = this.#own({ stop: () => ac.abort() });
        const inner = queue.fetch(max, { ...(o.expiresMs !== undefined ? { expiresMs: o.expiresMs } : {}), signal: ac.signal });
        return {
          async *[Symbol.asyncIterator]() {
            try {
              yield* inner;
            } finally {
              o.signal?.removeEventListener('abort', onAbort);
              owned.stop();
            }
          },
        };
      },
      info: () => queue.info(),
    };
  }

  async workQueues(stream: string): Promise<Array<{ name: string; pending: number; ackPending: number; redelivered: number }>> {
    this.#open();
    this.store.stream(stream);
    const out: Array<{ name: string; pending: number; ackPending: number; redelivered: number }> = [];
    for (const [key, q] of this.store.queues) {
      if (!key.startsWith(`${stream}/`)) continue;
      out.push({ name: q.name, ...(await q.info()), redelivered: q.redelivered() });
    }
    return out;
  }

  isConnected(): boolean {
    return !this.#closed;
  }

  async ping(_timeoutMs?: number): Promise<number> {
    this.#open();
    return 0;
  }

  async kv(name: string, _options?: { timeoutMs?: number }): Promise<KvBucket> {
    this.#open();
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new DurableError('validation', `invalid bucket name '${name}'`);
    await this.ensureStream({ name: `KV_${name}`, subjects: [`$KV.${name}.>`], maxMsgsPerSubject: 1 });
    return new MemoryKv(this, name);
  }

  publishCore(subject: string, data: Uint8Array, options: { headers?: Record<string, string>; reply?: string } = {}): void {
    this.#open();
    this.#check(subject, data);
    const stream = this.store.streamFor(subject);
    if (stream) {
      // A core publish to a captured subject is stored too, with the headers that steer JetStream
      // (dedupe id, fence) honoured; the PubAck, or the error, goes to `reply` as the server's would.
      const { 'Nats-Msg-Id': msgId, 'Nats-Expected-Last-Subject-Sequence': expected, ...rest } = options.headers ?? {};
      const publish: PublishOptions = {
        ...(msgId !== undefined ? { msgId } : {}),
        ...(expected !== undefined ? { expectedLastSubjectSequence: Number(expected) } : {}),
        ...(Object.keys(rest).length ? { headers: rest } : {}),
      };
      void this.publish(subject, data, publish)
        .then(
          (ack) => ack,
          (e: unknown) => ({ error: { err_code: DurableError.is(e, 'fenced') ? 10071 : 500, description: (e as Error).message } }),
        )
        .then((answer) => {
          if (options.reply) this.store.deliver({ subject: options.reply, data: new TextEncoder().encode(JSON.stringify(answer)) });
        });
      return;
    }
    const headers = options.headers ? new Map(Object.entries(options.headers)) : undefined;
    this.store.deliver({ subject, data, ...(headers ? { headers } : {}), ...(options.reply ? { reply: options.reply } : {}) });
  }

  async subscribe(pattern: string, onMessage: (m: CoreMessage) => void): Promise<Stoppable> {
    this.#open();
    if (!isValidSubject(pattern, true)) throw new DurableError('validation', `invalid subscription subject '${pattern}'`);
    const sub: Subscription = { pattern, onMessage };
    this.store.subscriptions.add(sub);
    return this.#own({
      stop: () => {
        this.store.subscriptions.delete(sub);
      },
    });
  }

  inbox(): string {
    return this.store.nextInbox();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#owned) s.stop();
    this.#owned.clear();
  }

  /** Fails every call on a closed connection, as a drained NATS connection does. */
  #open(): void {
    if (this.#closed) throw new DurableError('connection', 'the fabric connection is closed');
  }

  #check(subject: string, data: Uint8Array): void {
    if (!isValidSubject(subject, false)) throw new DurableError('validation', `invalid publish subject '${subject}'`);
    if (data.length > this.maxPayload) throw new DurableError('connection', `message to ${subject} exceeds the maximum payload (${data.length} > ${this.maxPayload} bytes)`);
  }

  #own(s: Stoppable): Stoppable {
    let stopped = false;
    const handle: Stoppable = {
      stop: () => {
        if (stopped) return;
        stopped = true;
        this.#owned.delete(handle);
        s.stop();
      },
    };
    this.#owned.add(handle);
    return handle;
  }
}

/** A KV bucket on the memory fabric: a stream `KV_<name>` with one message per key, as in NATS. */
class MemoryKv implements KvBucket {
  readonly #stream: string;
  readonly #prefix: string;

  constructor(
    private readonly f: MemoryFabric,
    readonly name: string,
  ) {
    this.#stream = `KV_${name}`;
    this.#prefix = `$KV.${name}.`;
  }

  async get(key: string): Promise<KvEntry | null> {
    const m = await this.f.readLast(this.#stream, this.#subject(key));
    return m && !isDeletion(m) ? { key, value: m.data, revision: m.seq } : null;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    return (await this.f.publish(this.#subject(key), value)).seq;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    const last = await this.f.readLast(this.#stream, this.#subject(key));
    if (last && !isDeletion(last)) throw new DurableError('fenced', `key '${key}' exists in bucket ${this.name} (wrong last sequence: ${last.seq})`);
    return (await this.f.publish(this.#subject(key), value, { expectedLastSubjectSequence: last?.seq ?? 0 })).seq;
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return (await this.f.publish(this.#subject(key), value, { expectedLastSubjectSequence: revision })).seq;
  }

  async delete(key: string, options: { purge?: boolean } = {}): Promise<void> {
    await this.f.publish(this.#subject(key), new Uint8Array(), { headers: { [KV_OPERATION]: options.purge ? 'PURGE' : 'DEL' } });
  }

  async keys(filter = '>'): Promise<string[]> {
    const s = this.f.store.stream(this.#stream);
    const pattern = this.#prefix + filter;
    const out: string[] = [];
    for (const subject of s.bySubject.keys()) {
      if (!subjectMatches(pattern, subject)) continue;
      const m = s.last(subject);
      if (m && !isDeletion(m)) out.push(subject.slice(this.#prefix.length));
    }
    return out;
  }

  async watch(onChange: (c: KvChange) => void, options: { filter?: string } = {}): Promise<Stoppable> {
    const s = this.f.store.stream(this.#stream);
    const pattern = this.#prefix + (options.filter ?? '>');
    // Current values first (last message of each key, deletions included, in revision order),
    // then everything after: no gap, because both are taken in one synchronous step.
    const current = [...s.bySubject.entries()]
      .filter(([subject]) => subjectMatches(pattern, subject))
      .map(([, seqs]) => seqs[seqs.length - 1]!)
      .sort((a, b) => a - b);
    const from = s.lastSeq + 1;
    for (const seq of current) onChange(this.#change(s.get(seq)!));
    return this.f.follow(this.#stream, pattern, from, (m) => onChange(this.#change(m)));
  }

  #change(m: StoredMessage): KvChange {
    const key = m.subject.slice(this.#prefix.length);
    const op = m.headers?.get(KV_OPERATION);
    return op === 'DEL' || op === 'PURGE' ? { op, key, revision: m.seq } : { op: 'PUT', key, value: m.data, revision: m.seq };
  }

  #subject(key: string): string {
    if (!/^[-/=.\w]+$/.test(key) || key.startsWith('.') || key.endsWith('.')) throw new DurableError('validation', `invalid key '${key}'`);
    return this.#prefix + key;
  }
}

function isDeletion(m: StoredMessage): boolean {
  const op = m.headers?.get(KV_OPERATION);
  return op === 'DEL' || op === 'PURGE';
}
