/**
 * PartitionProcessor: the batch loop of one partition, run only by the partition's lease holder.
 * A short pipeline of parts with one role each:
 *
 *   InboxReader (ordered, bounded buffer) -> InboxRouter (group by actor; timers, forwards, dead letters)
 *   -> BatchCommitter (one fenced append per actor; reports committed and failed actors)
 *   -> EffectPublisher (effects, dead letters, forwards) + timer registrations -> replies
 *   -> checkpoint
 *
 * Activity work items of an activity this worker runs are handed to it in memory instead of being
 * published (local dispatch): they are *owed* until the batch recording their result commits, and
 * the checkpoint lists them, so whoever recovers the partition publishes them (local-activities.ts).
 *
 * Invariants:
 * - messages of one actor are applied in inbox order: one batch at a time per partition;
 * - invariant 4: the checkpoint moves past a batch only when every actor of it committed and every
 *   effect, dead letter, forward and timer registration of it is durable or owed (listed in the
 *   checkpoint); a batch with a failure is retried whole (actors that did commit skip their
 *   applied messages by their `in` sequence),
 *   after the effects recorded in events since the checkpoint are published again;
 * - actors that committed reply to their callers even when others in the batch failed;
 * - no promise is left unobserved: every publish of a batch is settled before the batch ends;
 * - a message that cannot be applied is parked in the dead-letter stream, never fatal; so are the
 *   messages of an actor whose commit failed POISON_AFTER times in a row with an error that is not
 *   a store error (a bug, not an outage): one poisoned actor never stops its partition.
 */
import type { Logger } from 'pino';
import { decodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { inboxSubject } from '../core/topology.js';
import type { Hub } from '../store/hub.js';
import type { ActorHost, InboxMessage } from './actor-host.js';
import { BatchCommitter, type CommitOutcome, type CommittedActor } from './batch-committer.js';
import { EffectPublisher, TrimLimiter } from './effect-publisher.js';
import { InboxReader } from './inbox-reader.js';
import { InboxRouter, type RoutedBatch } from './inbox-router.js';
import { OwedLedger, type LocalActivities, type LocalActivitySlot, type OwedEffects, type OwedRef } from './local-activities.js';
import type { WorkerMetrics } from './metrics.js';
import { TimerIndex, type TimerRecord } from './timer-index.js';

export interface Checkpoint {
  /** Last inbox sequence whose effects are durable. */
  in: number;
  /** Highest event-stream sequence written by this partition up to that point. */
  ev: number;
  /** Effects recorded in events up to `ev` that are not durable yet: activities running locally. */
  owed?: OwedEffects[];
}

export interface PartitionDeps {
  /** Everything goes through `hub.fabric` (appends, effects, replies, the inbox follow) and `hub.kv`. */
  hub: Hub;
  hosts: { e: ActorHost; o: ActorHost };
  logger: Logger;
  metrics: WorkerMetrics;
  maxBatch: number;
  /** False once the lease may have been lost: stop committing. */
  leaseValid: () => boolean;
  /** Retention trims, bounded for the whole worker (default: a bound of this partition's own). */
  trims?: TrimLimiter;
  /** Runs activity work items here instead of publishing them (absent: every item is published). */
  localActivities?: LocalActivities;
}

/** An activity work item of a committed batch that will run here once the batch is durable. */
interface LocalRunClaim {
  slot: LocalActivitySlot;
  actorToken: string;
  ref: OwedRef;
}

const RETRY_BASE_MS = 100;
/**
 * Payload bytes of inbox messages per batch: a batch of signals (signal-batcher.ts) may address
 * hundreds of actors, each prepared and appended at once; this keeps a batch to a few thousand.
 */
const MAX_BATCH_BYTES = 256 * 1024;
/** Consecutive non-store failures of one actor after which its messages of the batch are parked. */
const POISON_AFTER = 5;
const RETRY_MAX_MS = 5_000;

export class PartitionProcessor {
  private readonly reader: InboxReader;
  private readonly router: InboxRouter;
  private readonly committer: BatchCommitter;
  private readonly effects: EffectPublisher;
  private readonly timers: TimerIndex;
  private readonly log: Logger;
  private processing: Promise<void> | undefined;
  private starting = false;
  private stopped = false;
  private done: { in: number; ev: number };
  /** Owed effects of the previous owner's checkpoint: kept in ours until they are published. */
  private inherited: OwedEffects[];
  /** Activities running here whose result is not durable yet. */
  private readonly owed = new OwedLedger();
  /** Results of local runs, waiting for the next batch (after the inbox's messages of it). */
  private readonly localResults: InboxMessage[] = [];
  /** Consecutive failed attempts of the current batch (for backoff and logs). */
  private failures = 0;
  /** A batch failed: effects recorded in events since the checkpoint must be published again. */
  private recoveryNeeded = false;
  /** Actors whose commit failed with a non-store error, and how many times in a row. */
  private readonly actorFailures = new Map<string, { count: number; error: Error }>();

  constructor(
    readonly partition: number,
    start: Checkpoint,
    private readonly d: PartitionDeps,
  ) {
    this.done = { in: start.in, ev: start.ev };
    this.inherited = start.owed ?? [];
    this.log = d.logger.child({ partition });
    this.router = new InboxRouter(partition, d.hub);
    this.reader = new InboxReader({ hub: d.hub, partition, logger: this.log, onMessages: () => this.kick() });
    this.committer = new BatchCommitter({
      fabric: d.hub.fabric,
      hostOf: (token) => (token.charCodeAt(0) === 101 /* e */ ? d.hosts.e : d.hosts.o),
      metrics: d.metrics,
      leaseValid: d.leaseValid,
    });
    this.effects = new EffectPublisher({
      hub: d.hub,
      partition,
      logger: this.log,
      metrics: d.metrics,
      leaseValid: d.leaseValid,
      trims: d.trims ?? new TrimLimiter(),
    });
    this.timers = new TimerIndex({
      partition,
      bucket: d.hub.kv.timers,
      fabric: d.hub.fabric,
      clock: d.hub.fabric.clock,
      onFired: (lag) => d.metrics.timerLag.observe(lag / 1000),
      onError: (e) => this.log.warn({ err: e }, 'timer publish failed; will retry'),
    });
  }

  /**
   * Starting (effect recovery, timer load), a batch in flight, messages buffered or due timers
   * being published: the test kit's idle detection. Cheap (no I/O).
   */
  get busy(): boolean {
    return this.starting || this.processing !== undefined || this.pending > 0 || this.owed.size > 0 || this.timers.busy;
  }

  /** The last checkpoint whose work is durable or owed (read by the lease renewal). */
  get checkpoint(): Checkpoint {
    const owed = this.inherited.length > 0 ? [...this.inherited, ...this.owed.list()] : this.owed.list();
    return { in: this.done.in, ev: this.done.ev, ...(owed.length > 0 ? { owed } : {}) };
  }

  /** Messages waiting for a batch: the inbox's and local results. */
  private get pending(): number {
    return this.reader.size + this.localResults.length;
  }

  async start(): Promise<void> {
    this.starting = true;
    try {
      await this.startReading();
    } finally {
      this.starting = false;
    }
  }

  private async startReading(): Promise<void> {
    const t0 = performance.now();
    // Effects are published after their event; a crash in between leaves them only in the event.
    // Owed ones (run locally by the previous owner) are before `ev`: published from their events.
    if (this.inherited.length > 0) {
      const owed = await this.effects.recoverOwed(this.inherited);
      this.inherited = [];
      this.log.debug({ owed }, 'published the work items the previous owner ran locally');
    }
    const recovered = await this.effects.recover(this.done.ev);
    this.done.ev = recovered.lastEventSeq;
    const t1 = performance.now();
    if (this.stopped) return;
    await this.timers.load();
    if (this.stopped) {
      this.timers.stop();
      return;
    }
    const t2 = performance.now();
    await this.reader.start(this.done.in);
    this.log.debug(
      { recovered: recovered.count, timers: this.timers.size, recoverMs: Math.round(t1 - t0), timersMs: Math.round(t2 - t1), consumeMs: Math.round(performance.now() - t2) },
      'partition started',
    );
  }

  /**
   * Stops reading and returns the checkpoint. `graceful`: first let the batch in flight finish
   * (its checkpoint then counts); otherwise (lease lost) return at once: the fence stops any
   * append of the abandoned batch that is still in flight.
   */
  async stop(graceful: boolean): Promise<Checkpoint> {
    this.stopped = true;
    this.timers.stop();
    this.reader.stop();
    if (graceful) await this.processing;
    // Results that missed the last batch: durable in the inbox for the next owner, not lost.
    for (const m of this.localResults.splice(0)) this.onLocalResult(m.actorToken, m.local!, m.data, m.trace);
    return this.checkpoint;
  }

  /**
   * A local run finished: its result joins the next batch. Once the partition has stopped, it goes
   * to the instance's inbox instead (durable there for the next owner, which may also run the item
   * again from the checkpoint's owed list: the instance applies the first result of a task).
   */
  private onLocalResult(actorToken: string, ref: OwedRef, data: Uint8Array, trace: Record<string, string> | undefined): void {
    const subject = inboxSubject(this.d.hub.names.hub, this.partition, actorToken);
    if (this.stopped) {
      this.d.hub.fabric
        .publish(subject, data, { msgId: `res:${ref.s}:${ref.q}:${ref.x}`, ...(trace ? { headers: trace } : {}) })
        .catch((err) => this.log.warn({ err: (err as Error).message, actor: actorToken }, 'local activity result not delivered; the next owner runs it again'));
      return;
    }
    // The inbox subject it would have come on: a dead-lettered one is re-driven there.
    this.localResults.push({ seq: 0, subject, actorToken, data, local: ref, ...(trace ? { trace } : {}) });
    this.kick();
  }

  private kick(): void {
    if (this.processing || this.stopped) return;
    this.processing = this.drain().finally(() => {
      this.processing = undefined;
      if (this.pending > 0 && !this.stopped) this.kick();
    });
  }

  /** Never rejects: every failure is logged and the batch retried with backoff. */
  private async drain(): Promise<void> {
    while (this.pending > 0 && !this.stopped) {
      if (!this.d.leaseValid()) {
        await sleep(50);
        continue;
      }
      try {
        if (this.recoveryNeeded) {
          const recovered = await this.effects.recover(this.done.ev);
          this.done.ev = recovered.lastEventSeq;
          this.recoveryNeeded = false;
        }
        const inbox = this.reader.peek(this.d.maxBatch, MAX_BATCH_BYTES);
        const local = this.localResults.slice(0, this.d.maxBatch);
        if (await this.processBatch(local.length > 0 ? inbox.concat(local) : inbox, inbox.length)) {
          this.reader.consumed(inbox.length);
          this.localResults.splice(0, local.length);
          for (const m of local) this.owed.settle(m.local!);
          this.failures = 0;
          continue;
        }
      } catch (err) {
        this.log.error({ err }, 'batch step failed');
      }
      this.failures++;
      this.recoveryNeeded = true;
      await sleep(Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(this.failures, 10)));
    }
  }

  /**
   * Processes one batch (its first `fromInbox` messages from the inbox, the rest local results);
   * true when all of it is durable and the checkpoint moved past it.
   */
  private async processBatch(batch: InboxMessage[], fromInbox: number): Promise<boolean> {
    const started = performance.now();
    const routed = this.router.route(batch);
    this.parkPoisoned(routed);
    const outcome = await this.committer.commit(this.partition, routed.groups);
    for (const c of outcome.committed) this.actorFailures.delete(c.token);
    for (const f of outcome.failed) {
      if (isStoreError(f.error)) continue; // an outage: retried for as long as it takes
      const seen = this.actorFailures.get(f.token);
      this.actorFailures.set(f.token, { count: (seen?.count ?? 0) + 1, error: f.error });
    }
    const deadLetters = [...routed.deadLetters, ...outcome.committed.flatMap((c) => c.plan.deadLetters)];
    const runHere: LocalRunClaim[] = [];
    // Everything else this batch must make durable, all at once, all settled (never unobserved).
    const settled = await Promise.allSettled([
      ...outcome.committed.flatMap((c) => this.publishOrClaim(c, runHere)),
      ...deadLetters.map((dl) => this.effects.deadLetter(dl)),
      ...routed.forwards.map(({ message, home, part }) => this.effects.forward(message, home, part)),
      ...routed.timers.map((m) => this.registerTimer(m)),
    ]);
    this.sendReplies(outcome);
    const failedPublishes = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (outcome.failed.length > 0 || failedPublishes.length > 0) {
      // Not run here: the retry's recovery publishes them from their events like any effect.
      for (const r of runHere) r.slot.release();
      const firstError = outcome.failed[0]?.error ?? (failedPublishes[0]?.reason as Error | undefined);
      this.log.warn(
        {
          err: firstError,
          attempt: this.failures + 1,
          committed: outcome.committed.length,
          failedActors: outcome.failed.map((f) => f.token).slice(0, 10),
          failedPublishes: failedPublishes.length,
        },
        'batch not fully durable; retrying it (committed actors skip what they applied)',
      );
      return false;
    }
    for (const c of outcome.committed) {
      if (c.plan.afterCommit) await c.plan.afterCommit().catch((err) => this.log.warn({ err, actor: c.token }, 'after-commit step failed'));
      // In the background: the batch is durable, and a trim that fails is only late.
      if (c.plan.trim) this.effects.trim(c.plan.trim);
    }
    // Owed from now on (listed in every checkpoint until their result commits), then started.
    for (const r of runHere) {
      this.owed.add(r.ref);
      r.slot.run((data, trace) => this.onLocalResult(r.actorToken, r.ref, data, trace));
    }
    this.done = { in: fromInbox > 0 ? batch[fromInbox - 1]!.seq : this.done.in, ev: Math.max(this.done.ev, outcome.maxEventSeq) };
    this.d.metrics.batchSize.observe(batch.length);
    this.d.metrics.commitLatency.observe((performance.now() - started) / 1000);
    this.d.metrics.applied.inc(outcome.committed.reduce((n, c) => n + c.plan.applied, 0));
    return true;
  }

  /**
   * Publishes a committed actor's effects, except activity work items the local runner takes
   * (collected in `runHere`, started only once the whole batch is durable).
   */
  private publishOrClaim(c: CommittedActor, runHere: LocalRunClaim[]): Array<Promise<unknown>> {
    const local = this.d.localActivities;
    const subject = c.plan.append?.subject;
    if (!local || !subject || c.firstSeq === 0) {
      for (const slot of c.plan.claims?.values() ?? []) slot.release();
      return c.plan.effects.map((fx) => this.effects.publish(fx));
    }
    const publishes: Array<Promise<unknown>> = [];
    c.plan.effects.forEach((fx, x) => {
      const slot = c.plan.claims?.get(x) ?? local.claim(fx);
      if (slot) runHere.push({ slot, actorToken: c.token, ref: { s: subject, q: c.firstSeq, x } });
      else publishes.push(this.effects.publish(fx));
    });
    return publishes;
  }

  /** Replies of committed actors (core publish: a caller that is gone costs nothing). */
  private sendReplies(outcome: CommitOutcome): void {
    for (const c of outcome.committed) {
      for (const r of c.plan.replies) {
        try {
          this.d.hub.fabric.publishCore(r.subject, r.data);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, actor: c.token }, 'reply not sent (connection closed?)');
        }
      }
    }
  }

  /** Moves the messages of actors that kept failing with a non-store error to the dead letters. */
  private parkPoisoned(routed: RoutedBatch): void {
    for (const [token, messages] of routed.groups) {
      const failure = this.actorFailures.get(token);
      if (!failure || failure.count < POISON_AFTER) continue;
      const reason = `actor ${token} failed ${failure.count} times in a row: ${failure.error.message}`;
      this.log.error({ err: failure.error, actor: token, messages: messages.length }, 'actor keeps failing; parking its messages of this batch');
      for (const m of messages) routed.deadLetters.push({ ...m, reason });
      routed.groups.delete(token);
      this.actorFailures.delete(token);
    }
  }

  /** Durable in the timer bucket before the batch completes; a malformed one is dead-lettered. */
  private async registerTimer(m: InboxMessage): Promise<unknown> {
    let t: TimerRecord;
    try {
      t = decodeJson<TimerRecord>(m.data);
      if (typeof t.id !== 'string' || typeof t.at !== 'number' || typeof t.s !== 'string') throw new Error('bad shape');
    } catch {
      return this.effects.deadLetter({ ...m, reason: 'malformed timer registration' });
    }
    return this.timers.register(m.trace && !t.h ? { ...t, h: m.trace } : t); // scheduled with a trace: it fires into that trace
  }
}

/**
 * Real time, not the fabric's clock, on purpose: these waits are for the store to recover (an
 * outage, a lease being renewed) and the lease itself is real time; under the test kit's virtual
 * clock, which moves only once the engine is idle, a clock sleep inside a busy batch loop would
 * never end.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Errors of the store (no answer, connection, another writer): transient, never a reason to park. */
function isStoreError(e: Error): boolean {
  return DurableError.is(e, 'timeout') || DurableError.is(e, 'connection') || DurableError.is(e, 'fenced');
}
