/**
 * The fabric port on NATS JetStream: the lean paths (LeanPublisher for fenced, deduplicated
 * appends; one DIRECT.GET mux for last-message and random reads), the bounded `scan`, self-healing
 * lean ordered push consumers for follows (nats-follow.ts), durable pull consumers for work
 * queues, nats.js KV (nats-kv.ts), core publish/subscribe; errors mapped in nats-errors.ts.
 *
 * Invariant: the port's semantics (fabric.ts), checked by the same contract suite as the memory
 * fabric (test/integration/fabric-contract.test.ts). Every error leaves as a DurableError: the
 * fence and a stale KV revision (JetStream error 10071, "wrong last sequence") as `fenced`.
 * The clock is the system clock: the server keeps time for windows and redeliveries.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { createInbox, headers as natsHeaders } from '@nats-io/transport-node';
import { type Clock, systemClock } from '../core/clock.js';
import { encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { connectNats } from './connection.js';
import { scan } from './event-log.js';
import type { CoreMessage, Fabric, KvBucket, PubAck, PublishOptions, ScanOptions, Stoppable, StoredMessage, StreamConfig, WorkItem, WorkQueue } from './fabric.js';
import { LeanPublisher } from './lean-publisher.js';
import { type FollowLogger, NatsFollow } from './nats-follow.js';
import { ReplyMux } from './reply-mux.js';
import { asDurable } from './nats-errors.js';
import { NatsKv } from './nats-kv.js';

const NS_PER_MS = 1_000_000;
const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;
/** nats.js refuses pull expiries under a second. */
const MIN_FETCH_EXPIRES_MS = 1_000;

export interface NatsFabricOptions {
  /** 1 or 3: replicas of the streams and buckets this fabric creates. */
  replicas?: number;
  /** Told when a follow replaces its consumer (stalled, on a follower replica); default silent. */
  logger?: FollowLogger;
  /** Silence of a follow (not paused, newer messages exist) after which it is replaced (default 3 s). */
  followStallMs?: number;
}

function toMap(h: MsgHdrs | undefined): Map<string, string> | undefined {
  if (!h) return undefined;
  const m = new Map<string, string>();
  for (const [k, v] of h) m.set(k, v[0] ?? '');
  return m.size ? m : undefined;
}

/**
 * @example
 * const fabric = await NatsFabric.connect('nats://127.0.0.1:4222');
 * await fabric.ensureStream({ name: 'DN_demo_EV', subjects: ['demo.ev.>'] });
 */
export class NatsFabric implements Fabric {
  readonly clock: Clock = systemClock;
  readonly #publisher: LeanPublisher;
  /** Last-message reads (DIRECT.GET) of every stream over one reply subscription. */
  readonly #direct: ReplyMux<StoredMessage | null>;
  readonly #kvm: Kvm;
  readonly #owned = new Set<Stoppable>();
  #closed = false;
  /** Follows the connection's status: false between a disconnect and the reconnect. */
  #connected = true;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly options: NatsFabricOptions,
    private readonly ownsConnection: boolean,
  ) {
    this.#publisher = new LeanPublisher(nc);
    this.#direct = new ReplyMux(nc, decodeDirectGet, 'reading');
    this.#kvm = new Kvm(js);
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === 'disconnect') this.#connected = false;
        else if (st.type === 'reconnect') this.#connected = true;
      }
    })().catch(() => undefined);
  }

  /** A fabric on its own connection (closed by close()). */
  static async connect(servers: string | string[] | undefined, options: NatsFabricOptions = {}): Promise<NatsFabric> {
    const nc = await connectNats(servers, 'durable-nats fabric');
    try {
      return await NatsFabric.on(nc, options, true);
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  /** A fabric on an existing connection (left open by close() unless `owns`). */
  static async on(nc: NatsConnection, options: NatsFabricOptions = {}, owns = false): Promise<NatsFabric> {
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { timeout: 10_000 });
    } catch (e) {
      throw new DurableError('connection', `JetStream is not available on this server: ${(e as Error).message}`, { cause: e });
    }
    return new NatsFabric(nc, jetstream(nc, { timeout: 10_000 }), jsm, options, owns);
  }

  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  async ensureStream(config: StreamConfig): Promise<void> {
    this.#open();
    try {
      await this.jsm.streams.info(config.name);
      return;
    } catch (e) {
      if (!/not found/i.test((e as Error).message)) throw asDurable(e, `stream ${config.name}`);
    }
    try {
      await this.jsm.streams.add({
        name: config.name,
        subjects: config.subjects,
        num_replicas: this.options.replicas ?? 1,
        allow_direct: true,
        storage: 'file' as never,
        duplicate_window: (config.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS) * NS_PER_MS,
        ...(config.workQueue ? { retention: RetentionPolicy.Workqueue } : {}),
        ...(config.maxAgeMs !== undefined ? { max_age: config.maxAgeMs * NS_PER_MS } : {}),
        ...(config.maxMsgsPerSubject !== undefined ? { max_msgs_per_subject: config.maxMsgsPerSubject } : {}),
      });
    } catch (e) {
      // Another process may have created it a moment ago.
      if (!/already in use|exists/i.test((e as Error).message)) throw asDurable(e, `cannot create stream ${config.name}`);
    }
  }

  /** Not async: the hot path (appends, effects) pays no extra promise over the lean publisher's. */
  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PubAck> {
    if (this.#closed || this.nc.isClosed()) return Promise.reject(new DurableError('connection', 'the fabric connection is closed'));
    return this.#publisher.publish(subject, data, options);
  }

  async readLast(stream: string, filter: string, options: { leader?: boolean } = {}): Promise<StoredMessage | null> {
    this.#open();
    if (options.leader) {
      const m = await this.jsm.streams.getMessage(stream, { last_by_subj: filter }).catch((e: Error) => {
        if (/no message found|not found/i.test(e.message)) return null;
        throw asDurable(e, `reading ${filter}`);
      });
      if (!m) return null;
      const headers = toMap(m.header);
      return { seq: m.seq, subject: m.subject, data: m.data, time: m.time.getTime(), ...(headers ? { headers } : {}) };
    }
    return this.#direct.exchange(filter, 5_000, (reply) => this.nc.publish(`$JS.API.DIRECT.GET.${stream}`, encodeJson({ last_by_subj: filter }), { reply }));
  }

  async readNext(stream: string, filter: string, fromSeq: number): Promise<StoredMessage | null> {
    this.#open();
    const request = encodeJson({ seq: Math.max(1, fromSeq), next_by_subj: filter });
    return this.#direct.exchange(`${filter} from ${fromSeq}`, 5_000, (reply) => this.nc.publish(`$JS.API.DIRECT.GET.${stream}`, request, { reply }));
  }

  async streamInfo(stream: string): Promise<{ firstSeq: number; lastSeq: number; messages: number }> {
    this.#open();
    try {
      const { state } = await this.jsm.streams.info(stream);
      return { firstSeq: state.first_seq, lastSeq: state.last_seq, messages: state.messages };
    } catch (e) {
      throw asDurable(e, `stream ${stream}`);
    }
  }

  async deleteMessage(stream: string, seq: number): Promise<boolean> {
    this.#open();
    try {
      return await this.jsm.streams.deleteMessage(stream, seq, false);
    } catch (e) {
      if (/no message found|not found/i.test((e as Error).message)) return false;
      throw asDurable(e, `delete ${stream}#${seq}`);
    }
  }

  async scan(stream: string, filter: string, fromSeq: number, onMessage: (m: StoredMessage) => void | Promise<void>, options: ScanOptions = {}): Promise<number> {
    this.#open();
    try {
      return await scan(this, stream, filter, Math.max(1, fromSeq), onMessage, options);
    } catch (e) {
      throw asDurable(e, `scan of ${filter}`);
    }
  }

  /**
   * A lean ordered push consumer on one raw subscription, replaced when it skips, goes silent,
   * stalls or sits on a follower replica (src/store/nats-follow.ts holds the reasons); rejects when
   * the first one cannot be opened.
   */
  async follow(stream: string, filter: string, fromSeq: number, onMessage: (m: StoredMessage) => void | Promise<void>): Promise<Stoppable> {
    this.#open();
    const follow = new NatsFollow(
      {
        nc: this.nc,
        jsm: this.jsm,
        stream,
        filter,
        onMessage,
        ...(this.options.logger ? { logger: this.options.logger } : {}),
        ...(this.options.followStallMs !== undefined ? { stallMs: this.options.followStallMs } : {}),
      },
      fromSeq,
    );
    try {
      await follow.start();
    } catch (e) {
      follow.stop();
      throw asDurable(e, `follow ${filter}`);
    }
    return this.#own(follow);
  }

  async purge(stream: string, options: { filter?: string; beforeSeq?: number; keep?: number } = {}): Promise<number> {
    this.#open();
    if (options.keep !== undefined && options.beforeSeq !== undefined) throw new DurableError('validation', 'purge takes keep or beforeSeq, not both');
    try {
      const r = await this.jsm.streams.purge(stream, {
        ...(options.filter !== undefined ? { filter: options.filter } : {}),
        ...(options.beforeSeq !== undefined ? { seq: options.beforeSeq } : {}),
        ...(options.keep !== undefined ? { keep: options.keep } : {}),
      } as never);
      return r.purged;
    } catch (e) {
      throw asDurable(e, `purge of ${stream}`);
    }
  }

  async workQueue(stream: string, name: string, options: { filter?: string; ackWaitMs: number }): Promise<WorkQueue> {
    this.#open();
    const ackWait = options.ackWaitMs * NS_PER_MS;
    try {
      // Only "consumer not found" means absent: a timeout taken for it would add over a live one.
      const info = await this.jsm.consumers.info(stream, name).catch((e: Error) => {
        if (/consumer not found/i.test(e.message)) return undefined;
        throw e;
      });
      if (!info) {
        await this.jsm.consumers
          .add(stream, {
            durable_name: name,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            ack_wait: ackWait,
            max_ack_pending: 20_000,
            ...(options.filter ? { filter_subject: options.filter } : {}),
          })
          .catch((e) => {
            if (!/already in use|exists/i.test((e as Error).message)) throw e;
          });
      } else if (info.config.ack_wait !== ackWait) {
        await this.jsm.consumers.update(stream, name, { ack_wait: ackWait });
      }
      const consumer = await this.js.consumers.get(stream, name);
      const jsm = this.jsm;
      return {
        fetch: (max, o = {}) => ({
          async *[Symbol.asyncIterator]() {
            if (o.signal?.aborted) return;
            const iter = await consumer.fetch({ max_messages: Math.max(1, max), expires: Math.max(MIN_FETCH_EXPIRES_MS, o.expiresMs ?? 30_000) });
            const onAbort = () => iter.stop();
            o.signal?.addEventListener('abort', onAbort, { once: true });
            try {
              for await (const m of iter) yield workItem(m);
            } finally {
              o.signal?.removeEventListener('abort', onAbort);
            }
          },
        }),
        info: async () => {
          const i = await jsm.consumers.info(stream, name);
          return { pending: i.num_pending, ackPending: i.num_ack_pending };
        },
      };
    } catch (e) {
      throw asDurable(e, `work queue ${stream}/${name}`);
    }
  }

  async workQueues(stream: string): Promise<Array<{ name: string; pending: number; ackPending: number; redelivered: number }>> {
    this.#open();
    try {
      const out: Array<{ name: string; pending: number; ackPending: number; redelivered: number }> = [];
      for await (const ci of this.jsm.consumers.list(stream)) {
        if (ci.config.durable_name) out.push({ name: ci.name, pending: ci.num_pending, ackPending: ci.num_ack_pending, redelivered: ci.num_redelivered });
      }
      return out;
    } catch (e) {
      throw asDurable(e, `consumers of ${stream}`);
    }
  }

  isConnected(): boolean {
    return !this.#closed && this.#connected && !this.nc.isClosed();
  }

  async ping(timeoutMs = 2_000): Promise<number> {
    this.#open();
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.nc.flush(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
        }),
      ]);
    } catch (e) {
      throw new DurableError('connection', `NATS did not answer: ${(e as Error).message}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    return performance.now() - t0;
  }

  async kv(name: string, options: { timeoutMs?: number } = {}): Promise<KvBucket> {
    this.#open();
    try {
      const kv = await this.#kvm.create(name, {
        history: 1,
        replicas: this.options.replicas ?? 1,
        allow_direct: true,
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      });
      return new NatsKv(kv, name, (s) => this.#own(s), this);
    } catch (e) {
      throw asDurable(e, `bucket ${name}`);
    }
  }

  /** A nats.js KV handle (opened elsewhere on this connection) behind the port. */
  wrapKv(kv: KV, name: string): KvBucket {
    return new NatsKv(kv, name, (s) => this.#own(s), this);
  }

  publishCore(subject: string, data: Uint8Array, options: { headers?: Record<string, string>; reply?: string } = {}): void {
    this.#open();
    let hdrs: MsgHdrs | undefined;
    if (options.headers) {
      hdrs = natsHeaders();
      for (const [k, v] of Object.entries(options.headers)) hdrs.set(k, v);
    }
    try {
      this.nc.publish(subject, data, { ...(hdrs ? { headers: hdrs } : {}), ...(options.reply ? { reply: options.reply } : {}) });
    } catch (e) {
      throw asDurable(e, `publish to ${subject}`);
    }
  }

  async subscribe(pattern: string, onMessage: (m: CoreMessage) => void): Promise<Stoppable> {
    this.#open();
    const sub = this.nc.subscribe(pattern, {
      callback: (err, msg) => {
        if (err) return;
        const headers = toMap(msg.headers);
        onMessage({ subject: msg.subject, data: msg.data, ...(headers ? { headers } : {}), ...(msg.reply ? { reply: msg.reply } : {}) });
      },
    });
    await this.nc.flush(); // in place on the server before we return
    return this.#own({ stop: () => sub.unsubscribe() });
  }

  inbox(): string {
    return createInbox();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#owned]) s.stop();
    this.#publisher.close();
    this.#direct.close();
    if (this.ownsConnection) await this.nc.drain().catch(() => undefined);
  }

  #open(): void {
    if (this.#closed || this.nc.isClosed()) throw new DurableError('connection', 'the fabric connection is closed');
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

/** Headers a DIRECT.GET reply adds about the stored message; the message's own headers stay. */
const DIRECT_GET_META = new Set(['Nats-Stream', 'Nats-Sequence', 'Nats-Subject', 'Nats-Time-Stamp', 'Nats-Last-Sequence']);

/**
 * A DIRECT.GET reply as a StoredMessage with the message's own headers and its stored time (KV
 * deletions are told by a header).
 */
function decodeDirectGet(msg: Msg, subject: string): StoredMessage | null {
  const h = msg.headers;
  if (!h || h.code === 404) return null;
  if (h.code && h.code >= 400) throw new DurableError('connection', `reading ${subject}: ${h.code} ${h.description}`);
  const headers = new Map<string, string>();
  for (const [k, v] of h) if (!DIRECT_GET_META.has(k)) headers.set(k, v[0] ?? '');
  const stamp = h.get('Nats-Time-Stamp');
  return {
    seq: Number(h.get('Nats-Sequence')),
    subject: h.get('Nats-Subject') || subject,
    data: msg.data,
    ...(stamp ? { time: Date.parse(stamp) } : {}),
    ...(headers.size ? { headers } : {}),
  };
}

function workItem(m: JsMsg): WorkItem {
  const headers = toMap(m.headers);
  return {
    seq: m.seq,
    subject: m.subject,
    data: m.data,
    ...(headers ? { headers } : {}),
    deliveryCount: m.info.deliveryCount,
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    term: () => m.term(),
    working: () => m.working(),
  };
}
