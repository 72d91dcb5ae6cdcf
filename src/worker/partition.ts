/**
 * PartitionProcessor: the batch loop of one partition, run only by the partition's lease holder.
 *
 *   read inbox (ordered consumer from checkpoint+1) -> group by actor -> host.prepare each actor
 *   -> append every actor's event (fenced, pipelined) -> publish effects -> reply -> next batch
 *
 * Invariants:
 * - messages of one actor are applied in inbox order: one batch at a time per partition;
 * - invariant 4: a message counts as processed (checkpoint) only after its event and effects are
 *   durable; the checkpoint advances only under this owner's lease (the lease manager writes it);
 * - on start, effects recorded in events after the checkpoint are published again (crash between
 *   append and effects), with their original dedupe ids;
 * - a message that cannot be applied is parked in the dead-letter stream, never fatal.
 */
import type { ConsumerMessages } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { deadLetterSubject, eventFilter, inboxFilter, inboxSubject, entityPartition, instancePartition } from '../core/topology.js';
import { EntityId } from '../core/entity-id.js';
import { decodeToken } from '../core/encoding.js';
import { scan } from '../store/event-log.js';
import type { Hub } from '../store/hub.js';
import type { LeanPublisher } from '../store/lean-publisher.js';
import type { ActorHost, CommitPlan, DeadLetterRecord, InboxMessage, ResolvedEffect } from './actor-host.js';
import type { WorkerMetrics } from './metrics.js';
import { TimerIndex, type TimerRecord } from './timer-index.js';

export interface Checkpoint {
  /** Last inbox sequence whose effects are durable. */
  in: number;
  /** Highest event-stream sequence written by this partition up to that point. */
  ev: number;
}

export interface PartitionDeps {
  hub: Hub;
  publisher: LeanPublisher;
  hosts: { e: ActorHost; o: ActorHost };
  logger: Logger;
  metrics: WorkerMetrics;
  maxBatch: number;
  /** False once the lease may have been lost: stop committing. */
  leaseValid: () => boolean;
}

const MAX_BUFFER = 20_000;
const READER_STALL_MS = 3_000;
const MAX_FENCE_RETRIES = 5;

export class PartitionProcessor {
  private buffer: InboxMessage[] = [];
  private messages: ConsumerMessages | undefined;
  private processing: Promise<void> | undefined;
  private stopped = false;
  private done: Checkpoint;
  private readonly timers: TimerIndex;
  private bufferDrained: (() => void) | undefined;
  private readonly log: Logger;
  private readerGeneration = 0;
  /** Highest inbox sequence the reader delivered, and when it last delivered anything. */
  private lastRead = 0;
  private lastReadAt = Date.now();
  private checkingReader = false;
  private watchdog: NodeJS.Timeout | undefined;
  /** Consecutive readers placed on a follower replica (see onLeader). */
  private misplaced = 0;

  constructor(readonly partition: number, start: Checkpoint, private readonly d: PartitionDeps) {
    this.done = { ...start };
    this.log = d.logger.child({ partition });
    this.timers = new TimerIndex({
      partition,
      bucket: d.hub.timers,
      publisher: d.publisher,
      onFired: (lag) => d.metrics.timerLag.observe(lag / 1000),
      onError: (e) => this.log.warn({ err: e }, 'timer publish failed; will retry'),
    });
  }

  /** The last checkpoint whose work is durable (read by the lease renewal). */
  get checkpoint(): Checkpoint {
    return { ...this.done };
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    const recovered = await this.recoverEffects();
    const t1 = performance.now();
    if (this.stopped) return;
    await this.timers.load();
    if (this.stopped) {
      this.timers.stop();
      return;
    }
    const t2 = performance.now();
    this.lastRead = this.done.in;
    await this.consume();
    this.watchdog = setInterval(() => void this.checkReader(), 1_000);
    this.watchdog.unref();
    this.log.info({ recovered, timers: this.timers.size, recoverMs: Math.round(t1 - t0), timersMs: Math.round(t2 - t1), consumeMs: Math.round(performance.now() - t2) }, 'partition started');
  }

  /** Stops reading, finishes the batch in flight (if `graceful`), and returns the final checkpoint. */
  async stop(graceful: boolean): Promise<Checkpoint> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.timers.stop();
    this.messages?.stop();
    this.bufferDrained?.();
    if (graceful) await this.processing?.catch(() => undefined);
    this.buffer = [];
    return this.checkpoint;
  }

  /** Effects are published after their event; a crash in between leaves them only in the event. */
  private async recoverEffects(): Promise<number> {
    const { hub } = this.d;
    let count = 0;
    const pending: Promise<unknown>[] = [];
    // Parts of a record that was not finished (no last part) are never acted on.
    const unfinished = new Map<string, ResolvedEffect[]>();
    const last = await scan(hub, hub.names.eventStream, eventFilter(hub.names.hub, this.partition), this.done.ev + 1, (m) => {
      let ev: { fx?: ResolvedEffect[]; more?: boolean; reset?: boolean };
      try {
        ev = decodeJson(m.data);
      } catch {
        return;
      }
      const group = ev.reset ? [] : (unfinished.get(m.subject) ?? []);
      group.push(...(ev.fx ?? []));
      if (ev.more) {
        unfinished.set(m.subject, group);
        return;
      }
      unfinished.delete(m.subject);
      for (const fx of group) {
        // Observed at once: the scan may go on for seconds, and a publish that fails meanwhile (no
        // stream leader after a node loss) was an unhandled rejection that killed the worker.
        // Promise.all below still reports it.
        const published = this.publishEffect(fx);
        published.catch(() => undefined);
        pending.push(published);
        count++;
      }
    });
    await Promise.all(pending);
    if (last > this.done.ev) this.done.ev = last;
    return count;
  }

  /**
   * Reads the inbox from `fromSeq` with a fresh ordered consumer. A reader is replaced (see the
   * watchdog) by bumping `readerGeneration`; an old reader's late messages are dropped.
   */
  private async consume(fromSeq = this.done.in + 1): Promise<void> {
    const { hub } = this.d;
    const generation = ++this.readerGeneration;
    const consumer = await hub.js.consumers.get(hub.names.inboxStream, {
      filter_subjects: inboxFilter(hub.names.hub, this.partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
    });
    if (this.stopped || generation !== this.readerGeneration) return; // released or replaced while starting
    // Short pull expiry and heartbeats: when the node hosting this (R1, ephemeral) ordered consumer
    // dies, nats.js notices only when a pull expires; with its 30 s default, consumers of an R3
    // stream whose leader was SIGKILLed delivered nothing for 25 s or more while the partition's
    // lease was still renewed (docs/operations.md, known limits).
    const messages = await consumer.consume({ max_messages: 2_000, threshold_messages: 1_000, expires: 5_000, idle_heartbeat: 1_000 } as any);
    if (this.stopped || generation !== this.readerGeneration) {
      messages.stop();
      return;
    }
    this.messages = messages;
    this.lastReadAt = Date.now();
    const prefixLength = `${hub.names.hub}.in.${this.partition}.`.length;
    let placed = ''; // the underlying consumer (ordered consumers replace theirs) known to sit on the leader
    void (async () => {
      try {
        for await (const m of messages) {
          if (this.stopped || generation !== this.readerGeneration) break;
          if (m.seq <= this.lastRead) continue; // a replacement reader starts where the old one was
          const info = await consumer.info(true);
          if (info.name !== placed) {
            if (!(await this.onLeader(info))) {
              // Nothing from this consumer has been taken: the replacement starts at this message.
              this.log.warn({ consumer: info.name, on: info.cluster?.leader, seq: m.seq }, 'inbox reader placed on a follower replica; starting a new one');
              if (generation === this.readerGeneration) void this.consume(Math.max(this.lastRead, this.done.in) + 1).catch((e) => this.log.warn({ err: (e as Error).message }, 'inbox reader restart failed'));
              messages.stop();
              void consumer.delete().catch(() => undefined); // else it idles on the server for its inactive threshold
              break;
            }
            placed = info.name;
          }
          this.lastRead = m.seq;
          this.lastReadAt = Date.now();
          const msgId = m.headers?.get('Nats-Msg-Id');
          this.buffer.push({ seq: m.seq, subject: m.subject, actorToken: m.subject.slice(prefixLength), data: m.data, ...(msgId ? { msgId } : {}) });
          this.kick();
          if (this.buffer.length >= MAX_BUFFER) await new Promise<void>((r) => (this.bufferDrained = r));
        }
      } catch (e) {
        if (!this.stopped) this.log.error({ err: e }, 'inbox consumer failed');
      }
    })();
  }

  /**
   * True when the (R1, ephemeral) consumer sits on the inbox stream's leader, or where that cannot
   * be told (single server, no answer). nats-server 2.9.10 places such a consumer on a random
   * replica and serves it from that replica's copy; a node restarted after a SIGKILL can hold, at
   * some sequences, messages its quorum never committed instead of acknowledged ones
   * (docs/operations.md, known limits). A reader there would skip those acknowledged signals for
   * good; the leader's copy is the one the PubAcks describe. Bounded: after 10 placements in a
   * row elsewhere, read from where it is (and say so).
   */
  private async onLeader(info: { cluster?: { leader?: string } }): Promise<boolean> {
    const host = info.cluster?.leader;
    if (!host) return true;
    const leader = await this.d.hub.jsm.streams.info(this.d.hub.names.inboxStream).then((i) => i.cluster?.leader).catch(() => undefined);
    if (!leader || leader === host) {
      this.misplaced = 0;
      return true;
    }
    if (++this.misplaced > 10) {
      this.log.warn({ on: host, leader }, 'inbox reader kept being placed on a follower replica; reading from it');
      this.misplaced = 0;
      return true;
    }
    return false;
  }

  /**
   * The reader must not go quiet while the inbox has more: after a NATS node loss an ordered
   * consumer can stall while the lease is still renewed (nobody else would take over). When the
   * reader has been silent for READER_STALL_MS and the inbox holds a newer message, start a new
   * reader where the old one stopped.
   */
  private async checkReader(): Promise<void> {
    if (this.stopped || this.checkingReader || Date.now() - this.lastReadAt < READER_STALL_MS) return;
    this.checkingReader = true;
    try {
      // Asked of the stream leader (not DIRECT.GET, which a lagging replica may answer).
      const newest = await this.d.hub.jsm.streams.getMessage(this.d.hub.names.inboxStream, { last_by_subj: inboxFilter(this.d.hub.names.hub, this.partition) }).catch(() => null);
      if (this.stopped || !newest || newest.seq <= this.lastRead || Date.now() - this.lastReadAt < READER_STALL_MS) return;
      this.log.warn({ lastRead: this.lastRead, newest: newest.seq }, 'inbox reader stalled; starting a new one');
      this.messages?.stop();
      await this.consume(Math.max(this.lastRead, this.done.in) + 1);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'inbox reader check failed');
    } finally {
      this.checkingReader = false;
    }
  }

  private kick(): void {
    if (this.processing || this.stopped) return;
    this.processing = this.drain().finally(() => {
      this.processing = undefined;
      if (this.buffer.length > 0 && !this.stopped) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && !this.stopped) {
      if (!this.d.leaseValid()) {
        await sleep(50);
        continue;
      }
      const batch = this.buffer.slice(0, this.d.maxBatch);
      try {
        await this.processBatch(batch);
        this.buffer.splice(0, batch.length);
        if (this.bufferDrained && this.buffer.length < MAX_BUFFER / 2) {
          this.bufferDrained();
          this.bufferDrained = undefined;
        }
      } catch (e) {
        this.log.error({ err: e }, 'batch failed; retrying');
        this.d.hosts.e.invalidate();
        this.d.hosts.o.invalidate();
        await sleep(250);
        // Part of the batch may be committed with its effects unpublished: publish them again.
        await this.recoverEffects().catch((err) => this.log.warn({ err }, 'effect recovery failed; will retry'));
      }
    }
  }

  private async processBatch(batch: InboxMessage[]): Promise<void> {
    const started = performance.now();
    const groups = new Map<string, InboxMessage[]>();
    const deadLetters: DeadLetterRecord[] = [];
    const forwards: Promise<unknown>[] = [];
    // Timer registrations go to the bucket in parallel; all are durable before the batch ends.
    const timerRegistrations: Promise<void>[] = [];
    for (const m of batch) {
      const kind = m.actorToken.charCodeAt(0);
      if (m.actorToken === 't') {
        timerRegistrations.push(this.registerTimer(m, deadLetters));
        continue;
      }
      if ((kind !== 101 /* e */ && kind !== 111 /* o */) || m.actorToken[1] !== '.') {
        deadLetters.push({ ...m, reason: `unknown actor subject '${m.subject}'` });
        continue;
      }
      const home = this.homePartition(m.actorToken);
      if (home === undefined) {
        deadLetters.push({ ...m, reason: `malformed actor address in '${m.subject}'` });
        continue;
      }
      if (home !== this.partition) {
        // A producer hashed with another partition count: move it home instead of applying it here.
        forwards.push(this.d.publisher.publish(inboxSubject(this.d.hub.names.hub, home, m.actorToken), m.data, { msgId: `fwd:${this.partition}:${m.seq}` }));
        continue;
      }
      let list = groups.get(m.actorToken);
      if (!list) groups.set(m.actorToken, (list = []));
      list.push(m);
    }

    let pending = [...groups.entries()];
    const effects: ResolvedEffect[] = [];
    const replies: CommitPlan['replies'] = [];
    const after: Array<() => Promise<void>> = [];
    let maxEventSeq = 0;
    let applied = 0;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > MAX_FENCE_RETRIES) throw new DurableError('fenced', `partition ${this.partition}: actors kept being written by another owner`);
      const plans = await Promise.all(pending.map(([token, msgs]) => this.host(token).prepare(this.partition, token, msgs)));
      if (!this.d.leaseValid()) throw new DurableError('fenced', `partition ${this.partition}: lease lost before commit`);
      const appends = await Promise.allSettled(plans.map((p) => this.append(p)));
      const retry: typeof pending = [];
      appends.forEach((r, i) => {
        const plan = plans[i]!;
        const [token, msgs] = pending[i]!;
        if (r.status === 'rejected') {
          if (DurableError.is(r.reason, 'fenced')) {
            this.host(token).invalidate(token);
            this.d.metrics.fenced.inc();
            retry.push([token, msgs]);
            return;
          }
          throw r.reason;
        }
        const [firstSeq, seq] = r.value;
        if (seq > maxEventSeq) maxEventSeq = seq;
        plan.committed(seq, firstSeq);
        effects.push(...plan.effects);
        replies.push(...plan.replies);
        deadLetters.push(...plan.deadLetters);
        if (plan.afterCommit) after.push(plan.afterCommit);
        applied += plan.applied;
      });
      pending = retry;
    }
    await Promise.all(timerRegistrations); // may add dead letters (malformed registrations)
    await Promise.all([...effects.map((fx) => this.publishEffect(fx)), ...deadLetters.map((dl) => this.deadLetter(dl)), ...forwards]);
    for (const r of replies) this.d.hub.nc.publish(r.subject, r.data);
    for (const fn of after) await fn();
    const last = batch[batch.length - 1]!;
    this.done = { in: last.seq, ev: Math.max(this.done.ev, maxEventSeq) };
    this.d.metrics.batchSize.observe(batch.length);
    this.d.metrics.commitLatency.observe((performance.now() - started) / 1000);
    this.d.metrics.applied.inc(applied);
  }

  /** Appends a plan's parts in order, each fenced on the previous; resolves [first, last] sequence. */
  private async append(plan: CommitPlan): Promise<[number, number]> {
    if (!plan.append) return [0, 0];
    const { subject, parts } = plan.append;
    let expected = plan.append.expectedLastSeq;
    let first = 0;
    for (const data of parts) {
      const ack = await this.d.publisher.publish(subject, data, { expectedLastSubjectSequence: expected });
      if (!first) first = ack.seq;
      expected = ack.seq;
    }
    return [first, expected];
  }

  private host(actorToken: string): ActorHost {
    return actorToken.charCodeAt(0) === 101 ? this.d.hosts.e : this.d.hosts.o;
  }

  private homePartition(actorToken: string): number | undefined {
    try {
      const parts = actorToken.split('.');
      const partitions = this.d.hub.config.partitions;
      if (parts[0] === 'e' && parts.length === 3) return entityPartition(new EntityId(decodeToken(parts[1]!), decodeToken(parts[2]!)), partitions);
      if (parts[0] === 'o' && parts.length === 2) return instancePartition(decodeToken(parts[1]!), partitions);
    } catch {
      return undefined;
    }
    return undefined;
  }

  private async registerTimer(m: InboxMessage, deadLetters: DeadLetterRecord[]): Promise<void> {
    let t: TimerRecord;
    try {
      t = decodeJson<TimerRecord>(m.data);
      if (typeof t.id !== 'string' || typeof t.at !== 'number' || typeof t.s !== 'string') throw new Error('bad shape');
    } catch {
      deadLetters.push({ ...m, reason: 'malformed timer registration' });
      return;
    }
    await this.timers.register(t);
  }

  private publishEffect(fx: ResolvedEffect): Promise<unknown> {
    // A worker that was paused past its lease may reach this after the new owner moved on:
    // a status write must then not go backwards (see guardedStatusWrite).
    if (fx.v !== undefined && !this.d.leaseValid()) return this.guardedStatusWrite(fx);
    const data = fx.d === undefined ? new Uint8Array(0) : encodeJson(fx.d);
    return this.d.publisher.publish(fx.s, data, { ...(fx.id ? { msgId: fx.id } : {}), ...(fx.h ? { headers: fx.h } : {}) });
  }

  /** Writes a status record only if the stored one is not from a later position of history. */
  private async guardedStatusWrite(fx: ResolvedEffect): Promise<unknown> {
    const key = fx.s.slice(`$KV.${this.d.hub.names.statusBucket}.`.length);
    const current = await this.d.hub.status.get(key);
    const stored = current && current.length > 0 ? (decodeJson<{ _v?: number }>(current.value)._v ?? 0) : -1;
    if (stored > fx.v!) {
      this.log.warn({ key, stale: fx.v, stored }, 'stale status write from a lost lease dropped');
      return undefined;
    }
    const data = encodeJson(fx.d);
    return current ? this.d.hub.status.update(key, data, current.revision).catch(() => undefined) : this.d.hub.status.create(key, data).catch(() => undefined);
  }

  private deadLetter(dl: DeadLetterRecord): Promise<unknown> {
    this.d.metrics.deadLetters.inc();
    this.log.warn({ seq: dl.seq, subject: dl.subject, reason: dl.reason }, 'message dead-lettered');
    return this.d.publisher.publish(deadLetterSubject(this.d.hub.names.hub, this.partition), dl.data, {
      msgId: `dlq:${dl.seq}`,
      headers: { 'Dn-Reason': dl.reason.slice(0, 1000), 'Dn-Subject': dl.subject, 'Dn-Seq': String(dl.seq) },
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
