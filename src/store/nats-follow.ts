/**
 * NatsFollow: the NATS side of the port's `follow` (src/store/fabric.ts): one filter of a stream,
 * in order, from a start sequence, now and as messages are stored, over a nats.js ordered consumer
 * (no server-side ack state) that is replaced when it goes wrong. Used by NatsFabric.follow; the
 * partition inbox readers (src/worker/inbox-reader.ts) are its hot path.
 *
 * Invariants:
 * - messages reach the callback in stream order, each once: a replacement consumer starts after
 *   the highest sequence already delivered, and a replaced consumer's late deliveries are dropped;
 * - backpressure: when the callback returns a promise, nothing more is delivered until it settles
 *   (a plain return costs no await); a follow paused by backpressure is never taken for a stalled
 *   one, and the time it spent paused is not silence;
 * - a follow that went silent while the stream leader holds newer messages for the filter (nats.js
 *   can stall after losing the NATS node that hosted an ordered consumer) is replaced: the stall
 *   watchdog (real time: a NATS-specific watchdog, not the engine's clock);
 * - messages are taken only from a consumer on the stream's leader (see onLeader): on
 *   nats-server 2.9.10 a restarted replica can hold other messages than the acknowledged ones at
 *   some sequences, and a reader placed there skipped acknowledged signals for good.
 */
import { type Consumer, type ConsumerInfo, type ConsumerMessages, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Stoppable, StoredMessage } from './fabric.js';

/** Where a follow reports what it did about a misbehaving consumer (a pino logger fits). */
export interface FollowLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
  debug(details: object, message: string): void;
}

export interface NatsFollowOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  filter: string;
  onMessage: (m: StoredMessage) => void | Promise<void>;
  logger?: FollowLogger;
  /** Silence (while not paused and while newer messages exist) after which the consumer is replaced. */
  stallMs?: number;
}

export const DEFAULT_FOLLOW_STALL_MS = 3_000;
/** How often the watchdog looks for a stall. */
const CHECK_EVERY_MS = 1_000;
/** Consecutive placements on a follower replica after which the follow reads from where it is. */
const MAX_MISPLACED = 10;
/**
 * Pulls of 2,000 refilled at 1,000, a short expiry and heartbeats: when the node hosting this (R1,
 * ephemeral) ordered consumer dies, nats.js notices only when a pull expires (30 s by default).
 */
const CONSUME_OPTIONS = { max_messages: 2_000, threshold_messages: 1_000, expires: 5_000, idle_heartbeat: 1_000 };

const silent: FollowLogger = { warn: () => undefined, error: () => undefined, debug: () => undefined };

export class NatsFollow implements Stoppable {
  #messages: ConsumerMessages | undefined;
  #generation = 0;
  #stopped = false;
  /** Highest sequence delivered, and when the follow last delivered (or resumed). */
  #lastRead: number;
  #lastActivityAt = Date.now();
  /** Waiting for the promise the callback returned (backpressure): not a stall. */
  #paused = false;
  #checking = false;
  /** Consecutive consumers placed on a follower replica (see onLeader). */
  #misplaced = 0;
  #watchdog: NodeJS.Timeout | undefined;
  readonly #log: FollowLogger;
  readonly #stallMs: number;

  constructor(
    private readonly o: NatsFollowOptions,
    fromSeq: number,
  ) {
    this.#lastRead = Math.max(1, fromSeq) - 1;
    this.#log = o.logger ?? silent;
    this.#stallMs = o.stallMs ?? DEFAULT_FOLLOW_STALL_MS;
  }

  /** Opens the first consumer (its failure rejects); the watchdog replaces later ones. */
  async start(): Promise<void> {
    await this.#open(this.#lastRead + 1);
    if (this.#stopped) return;
    this.#watchdog = setInterval(() => void this.#checkStalled(), CHECK_EVERY_MS);
    this.#watchdog.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#messages?.stop();
  }

  async #open(fromSeq: number): Promise<void> {
    const { js, stream, filter } = this.o;
    const generation = ++this.#generation;
    const consumer = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq });
    if (this.#stopped || generation !== this.#generation) return; // stopped or replaced while starting
    const messages = await consumer.consume(CONSUME_OPTIONS as never);
    if (this.#stopped || generation !== this.#generation) {
      messages.stop();
      return;
    }
    this.#messages = messages;
    this.#lastActivityAt = Date.now();
    void this.#pump(consumer, messages, generation);
  }

  async #pump(consumer: Consumer, messages: ConsumerMessages, generation: number): Promise<void> {
    const { onMessage } = this.o;
    // The server-side consumer known to sit on the leader (an ordered consumer replaces its own).
    let placed = '';
    try {
      for await (const m of messages) {
        if (this.#stopped || generation !== this.#generation) break;
        if (m.seq <= this.#lastRead) continue; // a replacement consumer may repeat what was delivered
        const info = await consumer.info(true);
        if (info.name !== placed) {
          if (!(await this.#onLeader(info))) {
            // Nothing from this consumer has been taken: the replacement starts at this message.
            this.#log.warn(
              { stream: this.o.stream, filter: this.o.filter, consumer: info.name, on: info.cluster?.leader, seq: m.seq },
              'follow placed on a follower replica; starting a new one',
            );
            messages.stop();
            void consumer.delete().catch((err: Error) => this.#log.debug({ err: err.message }, 'misplaced follow consumer not deleted; it expires by itself'));
            if (generation === this.#generation && !this.#stopped) {
              void this.#open(this.#lastRead + 1).catch((err: Error) =>
                this.#log.warn({ err: err.message, stream: this.o.stream, filter: this.o.filter }, 'follow restart failed; the watchdog will retry'),
              );
            }
            break;
          }
          placed = info.name;
          // Replaced while asking (a stall check, a restart): its late delivery is dropped.
          if (this.#stopped || generation !== this.#generation) break;
          if (m.seq <= this.#lastRead) continue;
        }
        this.#lastRead = m.seq;
        this.#lastActivityAt = Date.now();
        const h = m.headers;
        let headers: Map<string, string> | undefined;
        if (h) {
          headers = new Map();
          for (const [k, v] of h) headers.set(k, v[0] ?? '');
        }
        let pending: void | Promise<void>;
        try {
          pending = onMessage(headers ? { seq: m.seq, subject: m.subject, data: m.data, headers } : { seq: m.seq, subject: m.subject, data: m.data });
        } catch {
          continue; // the reader's problem (as on the memory fabric); order is kept
        }
        if (pending) {
          this.#paused = true;
          await pending.catch(() => undefined);
          this.#paused = false;
          this.#lastActivityAt = Date.now(); // time spent paused by backpressure is not silence
        }
      }
    } catch (err) {
      if (!this.#stopped && generation === this.#generation)
        this.#log.error({ err, stream: this.o.stream, filter: this.o.filter }, 'follow failed; the watchdog will start a new one');
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

  /** Replaces a consumer that has been silent while not paused and while newer messages exist. */
  async #checkStalled(): Promise<void> {
    if (this.#stopped || this.#checking) return;
    if (this.#paused || Date.now() - this.#lastActivityAt < this.#stallMs) return;
    this.#checking = true;
    try {
      // Asked of the stream leader (not DIRECT.GET, which a lagging replica may answer).
      const newest = await this.o.jsm.streams.getMessage(this.o.stream, { last_by_subj: this.o.filter }).catch((err: Error) => {
        if (/no message found|not found/i.test(err.message)) return null;
        throw err;
      });
      if (this.#stopped || !newest || newest.seq <= this.#lastRead) return;
      if (this.#paused || Date.now() - this.#lastActivityAt < this.#stallMs) return;
      this.#log.warn({ stream: this.o.stream, filter: this.o.filter, lastRead: this.#lastRead, newest: newest.seq }, 'follow stalled; starting a new one');
      this.#messages?.stop();
      await this.#open(this.#lastRead + 1);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, stream: this.o.stream, filter: this.o.filter }, 'follow stall check failed; will check again');
    } finally {
      this.#checking = false;
    }
  }
}
