/**
 * NatsFollow: the NATS side of the port's `follow` (src/store/fabric.ts): one filter of a stream,
 * in order, from a start sequence, now and as messages are stored. Used by NatsFabric.follow; the
 * partition inbox readers (src/worker/inbox-reader.ts) are its hot path, so it is a lean path like
 * the lean publish (lean-publisher.ts): an ordered PUSH consumer (ephemeral, no acks, memory, one
 * replica, flow control, idle heartbeats) delivering to a private inbox on ONE core subscription
 * with a callback. We parse the ack reply subject ourselves for the stream and consumer sequences,
 * read headers only when a message has them, and answer flow control ourselves; no JsMsg, no async
 * iterator, no pull bookkeeping (issue 10: nats.js's `consume()` cost most of the worker's CPU).
 * A consumer that goes wrong (a consumer-sequence gap, a heartbeat that reveals one, missed
 * heartbeats, an error status, a stall, a follower placement) is replaced by a new one, on a new
 * inbox, from the last sequence delivered + 1.
 *
 * Invariants:
 * - messages reach the callback in stream order, each once: a replacement consumer starts after
 *   the highest sequence already delivered, and a replaced consumer's late deliveries are dropped
 *   (its inbox is unsubscribed, and its messages are told apart by generation);
 * - backpressure: when the callback returns a promise, nothing more is delivered until it settles
 *   (a plain return costs no await). The push consumer keeps sending meanwhile: what arrives is
 *   queued here and the flow-control request that follows it is answered only once the queue is
 *   delivered, so the server holds (nats-server stops a push consumer with flow control at ~2 MB
 *   unanswered: JsFlowControlMaxPending / 16); should the queue still exceed MAX_QUEUED messages,
 *   the consumer is dropped and a new one starts after the queue is delivered. A follow paused by
 *   backpressure is never taken for a stalled one, and the time it spent paused is not silence;
 * - a follow that went silent while the stream leader holds newer messages for the filter (a
 *   consumer left on a node that lost its stream, a lagging replica) is replaced: the stall
 *   watchdog (real time: a NATS-specific watchdog, not the engine's clock); a consumer whose
 *   heartbeats stop (its node died) is replaced too;
 * - messages are taken only from a consumer on the stream's leader (see onLeader): on
 *   nats-server 2.9.10 a restarted replica can hold other messages than the acknowledged ones at
 *   some sequences, and a reader placed there skipped acknowledged signals for good. The check
 *   runs when a consumer is created, before any of its messages is delivered (they wait).
 */
import { AckPolicy, type ConsumerInfo, DeliverPolicy, type JetStreamManager, ReplayPolicy } from '@nats-io/jetstream';
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Stoppable, StoredMessage } from './fabric.js';
import { parseAckReply, parseAckReplyString, parsedAck, parseHeaderBlock, type RawMsg } from './nats-wire.js';

/** Where a follow reports what it did about a misbehaving consumer (a pino logger fits). */
export interface FollowLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
  debug(details: object, message: string): void;
}

export interface NatsFollowOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stream: string;
  filter: string;
  onMessage: (m: StoredMessage) => void | Promise<void>;
  logger?: FollowLogger;
  /** Silence (while not paused and while newer messages exist) after which the consumer is replaced. */
  stallMs?: number;
}

export const DEFAULT_FOLLOW_STALL_MS = 3_000;
/** How often the watchdog looks for a stall, missed heartbeats, or a consumer to open again. */
const CHECK_EVERY_MS = 1_000;
/** Consecutive placements on a follower replica after which the follow reads from where it is. */
const MAX_MISPLACED = 10;
/** The consumer's idle heartbeat; nothing heard for HEARTBEATS_MISSED of them: the consumer is replaced. */
const HEARTBEAT_MS = 1_000;
const HEARTBEATS_MISSED = 3;
/** Messages queued while paused beyond which the consumer is dropped (flow control should hold it well before). */
const MAX_QUEUED = 50_000;
const NS_PER_MS = 1_000_000;

const silent: FollowLogger = { warn: () => undefined, error: () => undefined, debug: () => undefined };

/**
 * Why a consumer is replaced (logged, except `misplaced` and `stalled`, which say so themselves);
 * `discard`: the queued messages came from a misplaced consumer.
 */
type Restart = { reason: string; discard: boolean; keep?: boolean };

export class NatsFollow implements Stoppable {
  /** Bumped by every consumer opened or dropped: a message of an older generation is dropped. */
  #generation = 0;
  #stopped = false;
  #sub: Subscription | undefined;
  #consumer: string | undefined;
  /** Opening a consumer (creating it, checking where it sits): its messages wait in the queue. */
  #opening = false;
  /** No consumer (dropped or failed to open): open one when the queue is delivered and not paused. */
  #needsOpen = false;
  /** Highest sequence delivered, and when the follow last delivered (or resumed). */
  #lastRead: number;
  #lastActivityAt = Date.now();
  /** Highest stream and consumer sequences taken from the current consumer (delivered or queued). */
  #lastTaken: number;
  #consumerSeq = 0;
  /** Messages taken and not yet delivered (paused, or waiting for the placement check), from #queueHead. */
  #queue: Array<{ msg: Msg; seq: number }> = [];
  #queueHead = 0;
  /** A flow-control request answered once the queue is delivered. */
  #pendingFc: string | undefined;
  /** Waiting for the promise the callback returned (backpressure): not a stall. */
  #paused = false;
  /** Anything heard from the current consumer (messages, heartbeats), seen by the watchdog. */
  #heard = 0;
  #heardSeen = 0;
  #heardAt = Date.now();
  /** When the watchdog last ran: a late run (a blocked event loop) does not count the delay as silence. */
  #tickedAt = Date.now();
  #checking = false;
  /** Consecutive consumers placed on a follower replica (see onLeader). */
  #misplaced = 0;
  #watchdog: NodeJS.Timeout | undefined;
  /** Between a disconnect and the reconnect: no consumer is opened (the watchdog opens one after). */
  #disconnected = false;
  /** The connection's status events (a lost connection drops the consumer: see #watchConnection). */
  #status: (AsyncIterable<{ type: string }> & { stop?: () => void }) | undefined;
  readonly #log: FollowLogger;
  readonly #stallMs: number;

  constructor(
    private readonly o: NatsFollowOptions,
    fromSeq: number,
  ) {
    this.#lastRead = Math.max(1, fromSeq) - 1;
    this.#lastTaken = this.#lastRead;
    this.#log = o.logger ?? silent;
    this.#stallMs = o.stallMs ?? DEFAULT_FOLLOW_STALL_MS;
  }

  /** Opens the first consumer (its failure rejects); the watchdog replaces later ones. */
  async start(): Promise<void> {
    await this.#open();
    if (this.#stopped) return;
    this.#watchdog = setInterval(() => void this.#tick(), CHECK_EVERY_MS);
    this.#watchdog.unref();
    this.#watchConnection();
  }

  /**
   * A lost connection drops the consumer at once, without deleting it: when the server restarts,
   * it restores an R1 consumer from its configuration (its original start sequence) and would push
   * it all again to the resubscribed inbox in the middle of the cluster's recovery; with no
   * interest left, it pushes nothing and expires. The watchdog opens a new one after the last
   * sequence delivered once the connection is back.
   */
  #watchConnection(): void {
    const status = this.o.nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
    this.#status = status;
    void (async () => {
      for await (const st of status) {
        if (this.#stopped) break;
        if (st.type === 'disconnect') {
          this.#disconnected = true;
          if (this.#sub) this.#restart({ reason: 'connection lost', discard: false, keep: true });
        } else if (st.type === 'reconnect') this.#disconnected = false;
      }
    })().catch(() => undefined);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#status?.stop?.();
    this.#drop();
    this.#queue = [];
    this.#queueHead = 0;
  }

  /** Creates a consumer from the last sequence taken + 1 on a new inbox; rejects when it cannot. */
  async #open(): Promise<void> {
    const { nc, jsm, stream, filter } = this.o;
    const generation = ++this.#generation;
    this.#needsOpen = false;
    this.#opening = true;
    this.#consumerSeq = 0;
    this.#heard++;
    const inbox = createInbox();
    const sub = nc.subscribe(inbox, { callback: (err, msg) => this.#onRaw(generation, err, msg) });
    this.#sub = sub;
    let info: ConsumerInfo;
    try {
      info = await jsm.consumers.add(stream, {
        deliver_subject: inbox,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: this.#lastTaken + 1,
        filter_subject: filter,
        flow_control: true,
        idle_heartbeat: HEARTBEAT_MS * NS_PER_MS,
        mem_storage: true,
        num_replicas: 1,
        replay_policy: ReplayPolicy.Instant,
      });
    } catch (err) {
      if (generation === this.#generation) {
        sub.unsubscribe();
        this.#sub = undefined;
        this.#opening = false;
        this.#needsOpen = !this.#stopped;
      }
      throw err;
    }
    if (this.#stopped || generation !== this.#generation) {
      this.#deleteConsumer(info.name);
      return;
    }
    this.#consumer = info.name;
    const placed = await this.#onLeader(info);
    if (this.#stopped || generation !== this.#generation) return; // dropped while asking: the drop deleted it
    if (!placed) {
      // Nothing from this consumer has been taken: the replacement starts where it started.
      this.#log.warn({ stream, filter, consumer: info.name, on: info.cluster?.leader, seq: this.#lastRead + 1 }, 'follow placed on a follower replica; starting a new one');
      this.#restart({ reason: 'misplaced', discard: true });
      return;
    }
    this.#opening = false;
    this.#lastActivityAt = Date.now();
    this.#drain();
  }

  /** One message on the inbox: taken (delivered, or queued while paused or opening), or a status. */
  #onRaw(generation: number, err: Error | null, msg: Msg): void {
    if (err || generation !== this.#generation || this.#stopped) return;
    this.#heard++;
    const raw = (msg as RawMsg)._msg;
    const isData = raw ? raw.reply !== undefined && parseAckReply(raw.reply) : parseAckReplyString(msg.reply);
    if (!isData) {
      this.#onStatus(msg);
      return;
    }
    if (parsedAck.consumerSeq !== this.#consumerSeq + 1) {
      this.#restart({ reason: `consumer sequence gap: ${this.#consumerSeq} then ${parsedAck.consumerSeq}`, discard: false });
      return;
    }
    this.#consumerSeq = parsedAck.consumerSeq;
    const seq = parsedAck.streamSeq;
    if (seq <= this.#lastTaken) return; // never expected: a consumer starts after what was taken
    this.#lastTaken = seq;
    if (this.#paused || this.#opening || this.#queueHead < this.#queue.length) {
      this.#queue.push({ msg, seq });
      if (this.#queue.length - this.#queueHead > MAX_QUEUED) this.#restart({ reason: 'queue full while paused', discard: false });
      return;
    }
    this.#deliver(msg, seq);
  }

  /** Heartbeats, flow-control requests and error statuses (rare: the public, parsing getters are fine). */
  #onStatus(msg: Msg): void {
    const h = msg.headers;
    const code = h?.code ?? 0;
    if (code === 100) {
      if (msg.reply) {
        this.#flowControl(msg.reply); // a flow-control request
        return;
      }
      // An idle heartbeat: the consumer's last delivered sequence tells a gap; a stalled one names its request.
      const last = h?.get('Nats-Last-Consumer');
      if (last && Number(last) !== this.#consumerSeq) {
        this.#restart({ reason: `heartbeat reveals a gap: consumer at ${last}, taken ${this.#consumerSeq}`, discard: false });
        return;
      }
      const stalled = h?.get('Nats-Consumer-Stalled');
      if (stalled) this.#flowControl(stalled);
      return;
    }
    this.#restart({ reason: `consumer status ${code} ${h?.description ?? ''}`.trim(), discard: false });
  }

  /** Answers a flow-control request once everything taken before it is delivered. */
  #flowControl(subject: string): void {
    if (this.#paused || this.#opening || this.#queueHead < this.#queue.length) this.#pendingFc = subject;
    else this.o.nc.publish(subject);
  }

  #deliver(msg: Msg, seq: number): void {
    this.#lastRead = seq;
    this.#lastActivityAt = Date.now();
    const raw = msg as RawMsg;
    let data: Uint8Array;
    let headers: Map<string, string> | undefined;
    const hdr = raw._msg?.hdr;
    if (raw._rdata && hdr !== undefined) {
      if (hdr > -1) {
        headers = parseHeaderBlock(raw._rdata.subarray(0, hdr));
        data = raw._rdata.subarray(hdr);
      } else data = raw._rdata;
    } else {
      data = msg.data;
      const h = msg.headers;
      if (h) {
        headers = new Map();
        for (const [k, v] of h) headers.set(k, v[0] ?? '');
        if (!headers.size) headers = undefined;
      }
    }
    let pending: void | Promise<void>;
    try {
      pending = this.o.onMessage(headers ? { seq, subject: msg.subject, data, headers } : { seq, subject: msg.subject, data });
    } catch {
      return; // the reader's problem (as on the memory fabric); order is kept
    }
    if (pending) {
      this.#paused = true;
      pending.then(this.#resume, this.#resume);
    }
  }

  readonly #resume = (): void => {
    this.#paused = false;
    this.#lastActivityAt = Date.now(); // time spent paused by backpressure is not silence
    if (!this.#stopped) this.#drain();
  };

  /** Delivers the queue while not paused; then answers a held flow-control request, or opens a consumer. */
  #drain(): void {
    const q = this.#queue;
    while (this.#queueHead < q.length && !this.#paused && !this.#opening && !this.#stopped) {
      const { msg, seq } = q[this.#queueHead]!;
      q[this.#queueHead++] = undefined as never;
      this.#deliver(msg, seq);
    }
    if (this.#queueHead < q.length || this.#paused || this.#opening || this.#stopped) return;
    this.#queue = [];
    this.#queueHead = 0;
    if (this.#pendingFc) {
      const fc = this.#pendingFc;
      this.#pendingFc = undefined;
      if (this.#sub && !this.o.nc.isClosed()) this.o.nc.publish(fc);
    }
    if (this.#needsOpen) void this.#reopen();
  }

  /** Drops the current consumer (its late messages are dropped) and opens a new one when the queue is delivered. */
  #restart({ reason, discard, keep = false }: Restart): void {
    if (this.#stopped) return;
    if (reason !== 'misplaced' && reason !== 'stalled')
      this.#log.warn({ stream: this.o.stream, filter: this.o.filter, lastRead: this.#lastRead, reason }, 'follow consumer replaced');
    // A consumer dropped before its placement was confirmed: nothing it sent may be delivered.
    const unplaced = this.#opening;
    this.#drop(!keep);
    if (discard || unplaced) {
      this.#queue = [];
      this.#queueHead = 0;
      this.#lastTaken = this.#lastRead;
    }
    this.#needsOpen = true;
    this.#drain();
  }

  /** Unsubscribes (and deletes, unless told not to) the current consumer; bumps the generation. */
  #drop(deleteIt = true): void {
    this.#generation++;
    this.#opening = false;
    this.#pendingFc = undefined;
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    if (this.#consumer && deleteIt) this.#deleteConsumer(this.#consumer);
    this.#consumer = undefined;
  }

  #deleteConsumer(name: string): void {
    const { nc, jsm, stream } = this.o;
    if (nc.isClosed() || nc.isDraining()) return; // an ephemeral push consumer without interest expires by itself
    void jsm.consumers.delete(stream, name).catch((err: Error) => this.#log.debug({ err: err.message, consumer: name }, 'follow consumer not deleted; it expires by itself'));
  }

  async #reopen(): Promise<void> {
    if (this.#stopped || this.#opening || !this.#needsOpen || this.#disconnected) return;
    try {
      await this.#open();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, stream: this.o.stream, filter: this.o.filter }, 'follow restart failed; the watchdog will retry');
    }
  }

  /**
   * True when the (R1, ephemeral) consumer sits on the stream's leader, or where that cannot be
   * told (a single server, no answer). nats-server 2.9.10 places such a consumer on a random
   * replica and serves it from that replica's copy; a node restarted after a SIGKILL can hold, at
   * some sequences, messages its quorum never committed instead of acknowledged ones
   * (docs/operations.md, known limits). The leader's copy is the one the PubAcks describe.
   * Bounded: after MAX_MISPLACED placements in a row elsewhere, read from where it is (and say so).
   */
  async #onLeader(info: ConsumerInfo): Promise<boolean> {
    const host = info.cluster?.leader;
    if (!host) return true;
    const leader = await this.o.jsm.streams.info(this.o.stream).then(
      (i) => i.cluster?.leader,
      () => undefined,
    );
    if (!leader || leader === host) {
      this.#misplaced = 0;
      return true;
    }
    if (++this.#misplaced > MAX_MISPLACED) {
      this.#log.warn({ stream: this.o.stream, filter: this.o.filter, on: host, leader }, 'follow kept being placed on a follower replica; reading from it');
      this.#misplaced = 0;
      return true;
    }
    return false;
  }

  /** The watchdog: opens a consumer still missing, replaces one whose heartbeats stopped or that stalled. */
  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const now = Date.now();
    const late = now - this.#tickedAt > 2 * CHECK_EVERY_MS;
    this.#tickedAt = now;
    // A pause is not silence either: the server, held by flow control, may stop its heartbeats.
    if (this.#heard !== this.#heardSeen || late || this.#paused) {
      this.#heardSeen = this.#heard;
      this.#heardAt = now;
    }
    if (this.#needsOpen) {
      if (!this.#paused && this.#queueHead >= this.#queue.length) await this.#reopen();
      return;
    }
    if (this.#opening || late) return;
    if (now - this.#heardAt > HEARTBEATS_MISSED * HEARTBEAT_MS) {
      this.#restart({ reason: 'missed heartbeats', discard: false });
      return;
    }
    await this.#checkStalled();
  }

  /** Replaces a consumer that has been silent while not paused and while newer messages exist. */
  async #checkStalled(): Promise<void> {
    if (this.#stopped || this.#checking) return;
    if (this.#paused || Date.now() - this.#lastActivityAt < this.#stallMs) return;
    this.#checking = true;
    const generation = this.#generation;
    try {
      // Asked of the stream leader (not DIRECT.GET, which a lagging replica may answer).
      const newest = await this.o.jsm.streams.getMessage(this.o.stream, { last_by_subj: this.o.filter }).catch((err: Error) => {
        if (/no message found|not found/i.test(err.message)) return null;
        throw err;
      });
      if (this.#stopped || !newest || newest.seq <= this.#lastRead) return;
      if (this.#paused || Date.now() - this.#lastActivityAt < this.#stallMs || generation !== this.#generation) return;
      this.#log.warn({ stream: this.o.stream, filter: this.o.filter, lastRead: this.#lastRead, newest: newest.seq }, 'follow stalled; starting a new one');
      this.#restart({ reason: 'stalled', discard: false });
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, stream: this.o.stream, filter: this.o.filter }, 'follow stall check failed; will check again');
    } finally {
      this.#checking = false;
    }
  }
}
