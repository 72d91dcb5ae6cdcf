/**
 * InboxReader: reads one partition's inbox, in stream order, into a bounded buffer that the batch
 * loop takes from. An ordered consumer (no server-side ack state) from a start sequence.
 *
 * Invariants:
 * - messages reach the buffer in inbox order, each once: a replacement reader starts after the
 *   highest sequence already buffered, and a replaced reader's late deliveries are dropped;
 * - the buffer is bounded (backpressure pauses the reader); a reader paused by backpressure is
 *   never taken for a stalled one;
 * - a reader that went silent while the stream leader holds newer messages for the partition
 *   (nats.js can stall after losing the NATS node that hosted an ordered consumer) is replaced;
 * - messages are taken only from a consumer on the inbox stream's leader (see onLeader): on
 *   nats-server 2.9.10 a restarted replica can hold other messages than the acknowledged ones at
 *   some sequences, and a reader placed there skipped acknowledged signals for good.
 */
import type { Consumer, ConsumerInfo, ConsumerMessages } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { inboxFilter } from '../core/topology.js';
import { traceFromNatsHeaders } from '../core/tracing.js';
import type { Hub } from '../store/hub.js';
import type { InboxMessage } from './actor-host.js';

export interface InboxReaderOptions {
  hub: Hub;
  partition: number;
  logger: Logger;
  /** Called whenever new messages are buffered. */
  onMessages: () => void;
  maxBuffer?: number;
  /** Silence (while not paused and while newer messages exist) after which the reader is replaced. */
  stallMs?: number;
}

const DEFAULT_MAX_BUFFER = 20_000;
const DEFAULT_STALL_MS = 3_000;

export class InboxReader {
  private buffer: InboxMessage[] = [];
  private messages: ConsumerMessages | undefined;
  private generation = 0;
  private stopped = false;
  /** Highest inbox sequence buffered, and when the reader last delivered (or resumed). */
  private lastRead = 0;
  private lastActivityAt = Date.now();
  /** Resolvers of readers waiting for room in the buffer. */
  private waitingForRoom: Array<() => void> = [];
  private checking = false;
  /** Consecutive readers placed on a follower replica (see onLeader). */
  private misplaced = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly maxBuffer: number;
  private readonly stallMs: number;
  private readonly prefixLength: number;

  constructor(private readonly o: InboxReaderOptions) {
    this.maxBuffer = o.maxBuffer ?? DEFAULT_MAX_BUFFER;
    this.stallMs = o.stallMs ?? DEFAULT_STALL_MS;
    this.prefixLength = `${o.hub.names.hub}.in.${o.partition}.`.length;
  }

  get size(): number {
    return this.buffer.length;
  }

  /** Starts reading after `afterSeq` (the checkpoint). */
  async start(afterSeq: number): Promise<void> {
    this.lastRead = afterSeq;
    await this.open(afterSeq + 1);
    this.watchdog = setInterval(() => void this.checkStalled(), 1_000);
    this.watchdog.unref();
  }

  /** The first `max` buffered messages (not removed: see `consumed`). */
  peek(max: number): InboxMessage[] {
    return this.buffer.slice(0, max);
  }

  /** Removes the first `n` buffered messages (their batch is done) and lets a paused reader go on. */
  consumed(n: number): void {
    this.buffer.splice(0, n);
    if (this.buffer.length < this.maxBuffer / 2) this.releaseWaiters();
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.messages?.stop();
    this.buffer = [];
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.waitingForRoom;
    this.waitingForRoom = [];
    for (const resolve of waiters) resolve();
  }

  private async open(fromSeq: number): Promise<void> {
    const { hub } = this.o;
    const generation = ++this.generation;
    const consumer = await hub.js.consumers.get(hub.names.inboxStream, {
      filter_subjects: inboxFilter(hub.names.hub, this.o.partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
    });
    if (this.stopped || generation !== this.generation) return; // stopped or replaced while starting
    // Short pull expiry and heartbeats: when the node hosting this (R1, ephemeral) ordered consumer
    // dies, nats.js notices only when a pull expires (30 s by default).
    const messages = await consumer.consume({ max_messages: 2_000, threshold_messages: 1_000, expires: 5_000, idle_heartbeat: 1_000 } as never);
    if (this.stopped || generation !== this.generation) {
      messages.stop();
      return;
    }
    this.messages = messages;
    this.lastActivityAt = Date.now();
    void this.pump(consumer, messages, generation);
  }

  private async pump(consumer: Consumer, messages: ConsumerMessages, generation: number): Promise<void> {
    // The server-side consumer known to sit on the leader (an ordered consumer replaces its own).
    let placed = '';
    try {
      for await (const m of messages) {
        if (this.stopped || generation !== this.generation) break;
        if (m.seq <= this.lastRead) continue; // a replacement reader may repeat what was buffered
        const info = await consumer.info(true);
        if (info.name !== placed) {
          if (!(await this.onLeader(info))) {
            // Nothing from this consumer has been taken: the replacement starts at this message.
            this.o.logger.warn(
              { partition: this.o.partition, consumer: info.name, on: info.cluster?.leader, seq: m.seq },
              'inbox reader placed on a follower replica; starting a new one',
            );
            messages.stop();
            void consumer.delete().catch((err: Error) => this.o.logger.debug({ err: err.message }, 'misplaced inbox consumer not deleted; it expires by itself'));
            if (generation === this.generation && !this.stopped) {
              void this.open(this.lastRead + 1).catch((err: Error) =>
                this.o.logger.warn({ err: err.message, partition: this.o.partition }, 'inbox reader restart failed; the watchdog will retry'),
              );
            }
            break;
          }
          placed = info.name;
        }
        this.lastRead = m.seq;
        this.lastActivityAt = Date.now();
        const headers = m.headers;
        const msgId = headers?.get('Nats-Msg-Id');
        const trace = traceFromNatsHeaders(headers); // the producer's trace context, for the span of the work it causes
        this.buffer.push({
          seq: m.seq,
          subject: m.subject,
          actorToken: m.subject.slice(this.prefixLength),
          data: m.data,
          ...(msgId ? { msgId } : {}),
          ...(trace ? { trace } : {}),
        });
        this.o.onMessages();
        if (this.buffer.length >= this.maxBuffer) {
          await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
          // Time spent paused by backpressure is not silence.
          this.lastActivityAt = Date.now();
        }
      }
    } catch (err) {
      if (!this.stopped && generation === this.generation) this.o.logger.error({ err, partition: this.o.partition }, 'inbox reader failed; the watchdog will start a new one');
    }
  }

  /**
   * True when the (R1, ephemeral) consumer sits on the inbox stream's leader, or where that cannot
   * be told (a single server, no answer). nats-server 2.9.10 places such a consumer on a random
   * replica and serves it from that replica's copy; a node restarted after a SIGKILL can hold, at
   * some sequences, messages its quorum never committed instead of acknowledged ones
   * (docs/operations.md, known limits). The leader's copy is the one the PubAcks describe.
   * Bounded: after 10 placements in a row elsewhere, read from where it is (and say so).
   */
  private async onLeader(info: ConsumerInfo): Promise<boolean> {
    const host = info.cluster?.leader;
    if (!host) return true;
    const { hub } = this.o;
    const leader = await hub.jsm.streams.info(hub.names.inboxStream).then(
      (i) => i.cluster?.leader,
      () => undefined,
    );
    if (!leader || leader === host) {
      this.misplaced = 0;
      return true;
    }
    if (++this.misplaced > 10) {
      this.o.logger.warn({ partition: this.o.partition, on: host, leader }, 'inbox reader kept being placed on a follower replica; reading from it');
      this.misplaced = 0;
      return true;
    }
    return false;
  }

  /** Replaces a reader that has been silent while not paused and while newer messages exist. */
  private async checkStalled(): Promise<void> {
    if (this.stopped || this.checking) return;
    if (this.buffer.length >= this.maxBuffer || Date.now() - this.lastActivityAt < this.stallMs) return;
    this.checking = true;
    try {
      const { hub } = this.o;
      // Asked of the stream leader (not DIRECT.GET, which a lagging replica may answer).
      const newest = await hub.jsm.streams.getMessage(hub.names.inboxStream, { last_by_subj: inboxFilter(hub.names.hub, this.o.partition) }).catch((err: Error) => {
        if (/no message found|not found/i.test(err.message)) return null;
        throw err;
      });
      if (this.stopped || !newest || newest.seq <= this.lastRead) return;
      if (this.buffer.length >= this.maxBuffer || Date.now() - this.lastActivityAt < this.stallMs) return;
      this.o.logger.warn({ partition: this.o.partition, lastRead: this.lastRead, newest: newest.seq }, 'inbox reader stalled; starting a new one');
      this.messages?.stop();
      this.releaseWaiters(); // a replaced reader must not stay parked on backpressure
      await this.open(this.lastRead + 1);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, partition: this.o.partition }, 'inbox reader check failed; will check again');
    } finally {
      this.checking = false;
    }
  }
}
