/**
 * ActivityRunner: pulls activity work items (one durable consumer per activity name, shared by
 * every worker that registers it), runs them, and sends TaskCompleted / TaskFailed to the
 * instance's inbox before acking.
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
}

export class ActivityRunner {
  /** Ends the open pulls and the back-offs on stop(). */
  private readonly stopping = new AbortController();
  /** Items received and waiting for an execution slot, in arrival order (shared by all activities). */
  private readonly waiting: Array<{ def: ActivityDefinition; m: WorkItem; intake: Intake }> = [];
  /** Items running: heartbeated with the waiting ones. */
  private readonly executingItems = new Set<WorkItem>();
  private executing = 0;
  /** The heartbeat timer, armed while any item is held (an idle worker leaves no timer on the clock). */
  private heartbeat: CancelTimer | undefined;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: ActivityRunnerOptions) {}

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
    for (const w of this.waiting.splice(0)) w.m.nak();
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
      for (const w of this.waiting) w.m.working();
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
      const { def, m, intake } = this.waiting.shift()!;
      intake.credits++;
      intake.wake?.();
      intake.wake = undefined;
      this.executing++;
      this.executingItems.add(m);
      const p = this.run(def, m).finally(() => {
        this.running.delete(p);
        this.executingItems.delete(m);
        this.executing--;
        this.startWaiting();
      });
      this.running.add(p);
    }
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
    const log = this.o.logger.child({ instanceId: item.i, activity: def.name, taskId: item.t });
    const deliveries = m.deliveryCount;
    if (deliveries > 1) this.o.metrics.activityRedeliveries.inc();
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
      traceFromNatsHeaders(m.headers) ?? {},
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
        log.debug({ err: e }, 'activity failed');
      }
    }
    const event = outcome.failure ? instanceMessages.taskFailed(item.t, outcome.failure, item.r) : instanceMessages.taskCompleted(item.t, outcome.result, item.r);
    const subject = instanceInboxSubject(this.o.hub.names.hub, item.i, this.o.hub.config.partitions);
    // Per work item (its stream sequence), not per task: a rewound task is a new item whose result must not be deduped away.
    const msgId = `res:${item.i}:${m.seq}`;
    try {
      let data = encodeJson(event);
      if (data.length > this.o.hub.fabric.maxPayload - 4096) {
        data = encodeJson(
          instanceMessages.taskFailed(
            item.t,
            { message: `activity '${def.name}' returned ${data.length} bytes, more than the message limit`, errorType: 'DurableError', code: 'validation' },
            item.r,
          ),
        );
      }
      const trace = spanHeaders(span);
      await this.o.hub.fabric.publish(subject, data, { msgId, ...(trace ? { headers: trace } : {}) });
      m.ack();
      endSpan(span, outcome.failure);
    } catch (err) {
      log.warn({ err }, 'could not deliver activity result; it will run again');
      m.nak(1_000);
      if (span) recordError(span, err);
      endSpan(span);
    }
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
