/**
 * ActivityRunner: pulls activity work items (one durable consumer per activity name, shared by
 * every worker that registers it), runs them, and sends TaskCompleted / TaskFailed to the
 * instance's inbox before acking. It also runs work items that a partition of this worker hands it
 * directly (local dispatch, src/worker/local-activities.ts): those share the execution slots and
 * the arrival order with pulled ones, and their result goes back to the partition in memory.
 *
 * Invariants: an activity is acked only after its result is durable (so a crash re-runs it:
 * at-least-once; the instance applies the first result of a task id and ignores the rest); a
 * worker holds at most `concurrency` waiting items per activity, and every item it holds, waiting
 * for a free execution slot or running, keeps its claim with working() heartbeats (under
 * saturation, prefetched items used to wait silently, time out and run twice); an item delivered MAX_ATTEMPTS
 * times without completing becomes a TaskFailed (never a silent loss); stop() lets running ones
 * finish. Every wait is on the fabric's clock (heartbeats, the pull's expiry, back-offs), as is the
 * work queue's ack wait: on the test kit's virtual clock, time moved on by a week does not let a
 * held item lapse and run twice.
 */
import type { Logger } from 'pino';
import type { CancelTimer } from '../core/clock.js';
import { decodeJson, encodeJson } from '../core/codec.js';
import { encodeToken } from '../core/encoding.js';
import { toErrorInfo } from '../core/errors.js';
import { activitySubject, deadLetterSubject, instanceInboxSubject } from '../core/topology.js';
import { attr, endSpan, recordError, spanHeaders, SpanKind, startSpan, traceFromNatsHeaders, inSpan } from '../core/tracing.js';
import type { ActivityDefinition } from '../orchestration/definition.js';
import type { WorkItem, WorkQueue } from '../store/fabric.js';
import type { ResolvedEffect } from './actor-host.js';
import type { LocalActivities, LocalActivitySlot } from './local-activities.js';
import type { Hub } from '../store/hub.js';
import { withStartupRetry, type StartupRetryOptions } from '../store/startup.js';
import type { WorkerMetrics } from './metrics.js';
import { activityWorkItemSchema, instanceMessages, type ActivityWorkItem } from '../orchestration/messages.js';

const MAX_ATTEMPTS = 10;
/** How long one pull waits for items (fabric clock). */
const PULL_EXPIRES_MS = 5_000;
const PULL_RETRY_MS = 1_000;

export interface ActivityRunnerOptions {
  hub: Hub;
  logger: Logger;
  metrics: WorkerMetrics;
  activities: ReadonlyMap<string, ActivityDefinition>;
  concurrency: number;
  /** How long a claimed activity may go without a heartbeat before another worker re-runs it. */
  ackWaitMs: number;
  /** For span attributes. */
  workerId?: string | undefined;
  /** Most work items handed over by local partitions and not yet finished (0: no local dispatch). */
  localBacklog?: number;
}

/** A work item waiting for an execution slot: pulled from the queue, or handed over by a partition. */
type Waiting = { def: ActivityDefinition; m: WorkItem; intake: Intake } | { def: ActivityDefinition; local: () => Promise<void>; drop: () => void };

/** A local run's outcome: the instance message (encoded) and the run's trace headers. */
interface LocalResult {
  data: Uint8Array;
  trace: Record<string, string> | undefined;
}

/** What one execution produced: the instance message to deliver, and its span (still open). */
interface Execution {
  data: Uint8Array;
  /** Set when the activity failed (the span records it). */
  failure?: ReturnType<typeof toErrorInfo>;
  span: ReturnType<typeof startSpan>;
}

export class ActivityRunner implements LocalActivities {
  /** Ends the open pulls and the back-offs on stop(). */
  private readonly stopping = new AbortController();
  /** Items received and waiting for an execution slot, in arrival order (shared by all activities). */
  private readonly waiting: Waiting[] = [];
  /** Items running: heartbeated with the waiting ones. */
  private readonly executingItems = new Set<WorkItem>();
  private executing = 0;
  /** The heartbeat timer, armed while any item is held (an idle worker leaves no timer on the clock). */
  private heartbeat: CancelTimer | undefined;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  /** Local work items claimed and not finished (bounded by `localBacklog`). */
  private localHeld = 0;
  /** Activities by work-queue subject: how a partition's effect is recognized as a work item. */
  private readonly bySubject: ReadonlyMap<string, ActivityDefinition>;

  constructor(private readonly o: ActivityRunnerOptions) {
    this.bySubject = new Map([...o.activities.values()].map((def) => [activitySubject(o.hub.names.hub, def.name), def]));
  }

  claim(effect: ResolvedEffect): LocalActivitySlot | undefined {
    if (this.stopped || this.localHeld >= (this.o.localBacklog ?? 0)) return undefined;
    const def = this.bySubject.get(effect.s);
    if (!def) return undefined;
    // Our own work item, built by the orchestration host (activityWorkItem) and recorded with its
    // event: a shape check, not a schema walk per activity (the queue path, reading the stream,
    // keeps the schema). Anything else is published instead, where the queue path parks it.
    if (!isWorkItem(effect.d)) return undefined;
    this.localHeld++;
    const item = effect.d;
    const trace = effect.h;
    // claimed -> (started now | queued for a slot) -> over; `localHeld` drops once, when it is over
    // and its execution (if any) has ended.
    let state: 'claimed' | 'started' | 'queued' | 'over' = 'claimed';
    let result: Promise<LocalResult> | undefined;
    const over = () => {
      this.localHeld--;
    };
    return {
      startNow: () => {
        if (state !== 'claimed' || this.stopped || this.executing >= this.o.concurrency || this.waiting.length > 0) return undefined;
        state = 'started';
        this.executing++;
        result = this.executeLocal(def, item, trace);
        this.track(result);
        return result.then((r) => r.data);
      },
      recorded: () => {
        if (state !== 'started') return;
        state = 'over';
        void result!.finally(over);
      },
      run: (onResult) => {
        // The partition's handler never throws; if it did, it is logged, never unobserved.
        const deliver = (r: LocalResult) => {
          try {
            onResult(r.data, r.trace);
          } catch (err) {
            this.o.logger.error({ err, activity: def.name, instanceId: item.i }, 'local activity result not handed over');
          }
        };
        if (state === 'started') {
          state = 'over';
          void result!.then(deliver).finally(over);
          return;
        }
        if (state !== 'claimed') return;
        if (this.stopped) {
          // Stopping: not run here. It stays owed by its partition, whose checkpoint hands it on.
          state = 'over';
          over();
          return;
        }
        state = 'queued';
        this.waiting.push({
          def,
          local: () => this.executeLocal(def, item, trace).then(deliver).finally(over),
          drop: over,
        });
        this.startWaiting();
      },
      release: () => {
        if (state === 'claimed') {
          state = 'over';
          over();
        } else if (state === 'started') {
          state = 'over';
          void result!.finally(over); // it ran for nothing: its batch did not become durable
        }
      },
    };
  }

  /** Creates or binds every activity's consumer, retrying transient errors until the start-up deadline. */
  async start(startup?: StartupRetryOptions): Promise<void> {
    const { hub } = this.o;
    for (const def of this.o.activities.values()) {
      const durable = `act-${encodeToken(def.name)}`;
      // The fabric creates it if missing (a create race with another worker binds the winner's) and
      // updates its ack wait if it differs.
      const queue = await withStartupRetry(
        `activity consumer ${durable}`,
        () => hub.fabric.workQueue(hub.names.activityStream, durable, { filter: activitySubject(hub.names.hub, def.name), ackWaitMs: this.o.ackWaitMs }),
        startup,
      );
      void this.loop(def, queue);
    }
  }

  /** Items held (waiting for a slot or running): the test kit's idle detection. */
  get busy(): boolean {
    return this.waiting.length > 0 || this.running.size > 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    // Local ones stay owed by their partition (its checkpoint hands them on as work items).
    for (const w of this.waiting.splice(0)) {
      if ('m' in w) w.m.nak();
      else w.drop();
    }
    await Promise.allSettled([...this.running]);
    this.heartbeat?.();
    this.heartbeat = undefined;
  }

  /**
   * Heartbeats every held item (waiting for a slot or running) every third of the ack wait, on the
   * fabric's clock; re-armed each time while any item is held.
   */
  private armHeartbeat(): void {
    // Not stopped by stop(): items still running while the worker drains keep their claim.
    if (this.heartbeat) return;
    const clock = this.o.hub.fabric.clock;
    this.heartbeat = clock.setTimer(clock.now() + Math.max(100, this.o.ackWaitMs / 3), () => {
      this.heartbeat = undefined;
      if (this.waiting.length === 0 && this.executingItems.size === 0) return;
      for (const w of this.waiting) if ('m' in w) w.m.working();
      for (const m of this.executingItems) m.working();
      this.armHeartbeat();
    });
  }

  /**
   * Pulls as many items as this activity has intake credits (`concurrency` per activity: items
   * received and not yet running), so a worker never claims more than it can heartbeat, and an
   * idle activity's open pull holds only its own credits, never the shared execution slots.
   */
  private async loop(def: ActivityDefinition, queue: WorkQueue): Promise<void> {
    const intake: Intake = { credits: this.o.concurrency, wake: undefined };
    const signal = this.stopping.signal;
    while (!this.stopped) {
      if (intake.credits === 0) {
        await new Promise<void>((resolve) => (intake.wake = resolve));
        continue;
      }
      const asked = intake.credits;
      intake.credits = 0;
      let received = 0;
      try {
        for await (const m of queue.fetch(asked, { expiresMs: PULL_EXPIRES_MS, signal })) {
          received++;
          if (this.stopped) {
            m.nak();
            continue;
          }
          this.waiting.push({ def, m, intake });
          this.armHeartbeat();
          this.startWaiting();
        }
      } catch (err) {
        if (!this.stopped) {
          this.o.logger.warn({ err: (err as Error).message, activity: def.name }, 'activity pull failed; retrying');
          await this.o.hub.fabric.clock.sleep(PULL_RETRY_MS, signal).catch(() => undefined);
        }
      } finally {
        intake.credits += asked - received; // credits of items that never came
      }
    }
  }

  /** Runs waiting items while execution slots are free, oldest first. */
  private startWaiting(): void {
    while (this.executing < this.o.concurrency && this.waiting.length > 0 && !this.stopped) {
      const w = this.waiting.shift()!;
      this.executing++;
      if ('m' in w) {
        const { def, m, intake } = w;
        intake.credits++;
        intake.wake?.();
        intake.wake = undefined;
        this.executingItems.add(m);
        this.track(this.run(def, m).finally(() => this.executingItems.delete(m)));
      } else {
        this.track(w.local());
      }
    }
  }

  /**
   * Runs a local item on the execution slot its caller took (`executing` counted), then frees the
   * slot. Never rejects: the activity's failures are results.
   */
  private async executeLocal(def: ActivityDefinition, item: ActivityWorkItem, trace: Record<string, string> | undefined): Promise<LocalResult> {
    // The input as the queue path would see it (a JSON copy, made only now: a waiting item holds
    // references): the activity may keep or change it without touching the orchestration's cached
    // history, and it behaves the same on either path (no Dates, no undefined fields).
    const copy = item.in === undefined ? item : { ...item, in: decodeJson(encodeJson(item.in)) };
    const done = await this.execute(def, copy, 1, trace);
    const headers = spanHeaders(done.span);
    endSpan(done.span, done.failure);
    return { data: done.data, trace: headers };
  }

  /** Counts a started execution until it ends (stop() waits for it), then frees its slot. */
  private track(p: Promise<unknown>): void {
    const tracked: Promise<void> = p
      .then(() => undefined)
      .finally(() => {
        this.running.delete(tracked);
        this.executing--;
        this.startWaiting();
      });
    this.running.add(tracked);
  }

  private async run(def: ActivityDefinition, m: WorkItem): Promise<void> {
    let item: ActivityWorkItem;
    try {
      const check = activityWorkItemSchema.safeParse(decodeJson(m.data));
      if (!check.success) throw new Error(check.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      item = check.data;
    } catch (e) {
      await this.park(m, `malformed activity work item: ${(e as Error).message}`);
      return;
    }
    const deliveries = m.deliveryCount;
    if (deliveries > 1) this.o.metrics.activityRedeliveries.inc();
    const done = await this.execute(def, item, deliveries, traceFromNatsHeaders(m.headers));
    const subject = instanceInboxSubject(this.o.hub.names.hub, item.i, this.o.hub.config.partitions);
    // Per work item (its stream sequence), not per task: a rewound task is a new item whose result must not be deduped away.
    const msgId = `res:${item.i}:${m.seq}`;
    try {
      const trace = spanHeaders(done.span);
      await this.o.hub.fabric.publish(subject, done.data, { msgId, ...(trace ? { headers: trace } : {}) });
      m.ack();
      endSpan(done.span, done.failure);
    } catch (err) {
      this.o.logger.warn({ err, instanceId: item.i, activity: def.name, taskId: item.t }, 'could not deliver activity result; it will run again');
      m.nak(1_000);
      if (done.span) recordError(done.span, err);
      endSpan(done.span);
    }
  }

  /** Runs one work item (or gives up on one delivered too often) and encodes its result for the instance. */
  private async execute(def: ActivityDefinition, item: ActivityWorkItem, deliveries: number, parent: Record<string, string> | undefined): Promise<Execution> {
    let outcome: { result?: unknown; failure?: ReturnType<typeof toErrorInfo> };
    // One span per execution, under the episode that scheduled it (the work item's traceparent).
    const span = startSpan(
      `activity ${def.name}`,
      SpanKind.CONSUMER,
      {
        [attr.hub]: this.o.hub.names.hub,
        [attr.activity]: def.name,
        [attr.instanceId]: item.i,
        [attr.taskId]: item.t,
        [attr.attempt]: item.a,
        'messaging.delivery_count': deliveries,
        ...(this.o.workerId ? { [attr.workerId]: this.o.workerId } : {}),
      },
      parent ?? {},
    );
    if (deliveries > MAX_ATTEMPTS) {
      outcome = { failure: { message: `activity '${def.name}' was delivered ${deliveries} times without completing (did it crash its worker?)`, errorType: 'ActivityAbandoned' } };
    } else {
      try {
        // The activity's own spans (HTTP calls, queries) nest under its span.
        outcome = { result: await inSpan(span, () => def.fn(item.in, { instanceId: item.i, taskId: item.t, attempt: item.a })) };
        this.o.metrics.activitiesRun.inc({ outcome: 'completed' });
      } catch (e) {
        outcome = { failure: toErrorInfo(e) };
        this.o.metrics.activitiesRun.inc({ outcome: 'failed' });
        this.o.logger.debug({ err: e, instanceId: item.i, activity: def.name, taskId: item.t }, 'activity failed');
      }
    }
    const event = outcome.failure ? instanceMessages.taskFailed(item.t, outcome.failure, item.r) : instanceMessages.taskCompleted(item.t, outcome.result, item.r);
    const invalid = (message: string) => {
      outcome.failure = { message, errorType: 'DurableError', code: 'validation' };
      return encodeJson(instanceMessages.taskFailed(item.t, outcome.failure, item.r));
    };
    let data: Uint8Array;
    try {
      data = encodeJson(event);
    } catch (e) {
      // Running it again would fail the same way: the task fails, with the reason.
      data = invalid(`activity '${def.name}' returned a value that is not JSON: ${(e as Error).message}`);
    }
    if (data.length > this.o.hub.fabric.maxPayload - 4096) data = invalid(`activity '${def.name}' returned ${data.length} bytes, more than the message limit`);
    return { data, span, ...(outcome.failure ? { failure: outcome.failure } : {}) };
  }

  /** Parks an item that can never run (dead-letter stream, with the reason), then removes it. */
  private async park(m: WorkItem, reason: string): Promise<void> {
    this.o.logger.warn({ subject: m.subject, seq: m.seq, reason }, 'activity work item dead-lettered');
    try {
      await this.o.hub.fabric.publish(deadLetterSubject(this.o.hub.names.hub, 'act'), m.data, {
        msgId: `dlq-act:${m.seq}`,
        headers: { 'Dn-Reason': reason.slice(0, 1000), 'Dn-Subject': m.subject, 'Dn-Seq': String(m.seq) },
      });
      m.term();
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, seq: m.seq }, 'dead-lettering an activity item failed; will retry');
      m.nak(1_000);
    }
  }
}

/** Per-activity intake: how many more items its pulls may ask for, and its parked loop. */
interface Intake {
  credits: number;
  wake: (() => void) | undefined;
}

/** The fields a local run reads, with their types (see activityWorkItemSchema for the whole shape). */
function isWorkItem(d: unknown): d is ActivityWorkItem {
  const w = d as Partial<ActivityWorkItem> | null;
  return (
    typeof w === 'object' &&
    w !== null &&
    typeof w.i === 'string' &&
    w.i.length > 0 &&
    typeof w.t === 'number' &&
    typeof w.n === 'string' &&
    typeof w.a === 'number' &&
    (w.r === undefined || typeof w.r === 'string')
  );
}
