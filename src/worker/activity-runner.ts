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
 * finish.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, type Consumer, type ConsumerInfo, type JsMsg } from '@nats-io/jetstream';
import type { ConsumerMessages } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { encodeToken } from '../core/encoding.js';
import { toErrorInfo } from '../core/errors.js';
import { activitySubject, deadLetterSubject, instanceInboxSubject } from '../core/topology.js';
import { attr, endSpan, recordError, spanHeaders, SpanKind, startSpan, traceFromNatsHeaders, inSpan } from '../core/tracing.js';
import type { ActivityDefinition } from '../orchestration/definition.js';
import type { Hub } from '../store/hub.js';
import type { LeanPublisher } from '../store/lean-publisher.js';
import { apiErrorCode, isAlreadyExists, withStartupRetry, type StartupRetryOptions } from '../store/transient.js';
import type { WorkerMetrics } from './metrics.js';
import { activityWorkItemSchema, instanceMessages, type ActivityWorkItem } from '../orchestration/messages.js';

const MAX_ATTEMPTS = 10;

export interface ActivityRunnerOptions {
  hub: Hub;
  publisher: LeanPublisher;
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
  /** Open pull requests, to stop them on stop(). */
  private readonly fetches = new Set<ConsumerMessages>();
  /** Items received and waiting for an execution slot, in arrival order (shared by all activities). */
  private readonly waiting: Array<{ def: ActivityDefinition; m: JsMsg; intake: Intake }> = [];
  private executing = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: ActivityRunnerOptions) {}

  /** Creates or binds every activity's consumer, retrying transient errors until the start-up deadline. */
  async start(startup?: StartupRetryOptions): Promise<void> {
    const { hub } = this.o;
    for (const def of this.o.activities.values()) {
      const durable = `act-${encodeToken(def.name)}`;
      // "already in use": another worker created it between our info and add; the retry's info binds it.
      await withStartupRetry(`activity consumer ${durable}`, () => this.ensureConsumer(def, durable), { ...startup, retryAlso: isAlreadyExists });
      const consumer = await withStartupRetry(`activity consumer ${durable} lookup`, () => hub.js.consumers.get(hub.names.activityStream, durable), startup);
      void this.loop(def, consumer);
    }
    // Waiting items keep their claim like running ones.
    this.heartbeat = setInterval(
      () => {
        for (const w of this.waiting) w.m.working();
      },
      Math.max(100, this.o.ackWaitMs / 3),
    );
    this.heartbeat.unref();
  }

  private async ensureConsumer(def: ActivityDefinition, durable: string): Promise<void> {
    const { hub } = this.o;
    const ackWait = this.o.ackWaitMs * 1_000_000;
    let info: ConsumerInfo | undefined;
    try {
      info = await hub.jsm.consumers.info(hub.names.activityStream, durable);
    } catch (e) {
      // Only "consumer not found" means absent: a timeout used to be taken for it too.
      if (apiErrorCode(e) !== JetStreamApiCodes.ConsumerNotFound) throw e;
    }
    if (!info) {
      await hub.jsm.consumers.add(hub.names.activityStream, {
        durable_name: durable,
        filter_subject: activitySubject(hub.names.hub, def.name),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        max_ack_pending: 20_000,
      });
    } else if (info.config.ack_wait !== ackWait) {
      await hub.jsm.consumers.update(hub.names.activityStream, durable, { ack_wait: ackWait });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const it of this.fetches) it.stop();
    for (const w of this.waiting.splice(0)) w.m.nak();
    await Promise.allSettled([...this.running]);
  }

  /**
   * Pulls as many items as this activity has intake credits (`concurrency` per activity: items
   * received and not yet running), so a worker never claims more than it can heartbeat, and an
   * idle activity's open pull holds only its own credits, never the shared execution slots.
   */
  private async loop(def: ActivityDefinition, consumer: Consumer): Promise<void> {
    const intake: Intake = { credits: this.o.concurrency, wake: undefined };
    while (!this.stopped) {
      if (intake.credits === 0) {
        await new Promise<void>((resolve) => (intake.wake = resolve));
        continue;
      }
      const asked = intake.credits;
      intake.credits = 0;
      let received = 0;
      try {
        const iter = await consumer.fetch({ max_messages: asked, expires: 5_000 });
        this.fetches.add(iter);
        try {
          for await (const m of iter) {
            received++;
            if (this.stopped) {
              m.nak();
              continue;
            }
            this.waiting.push({ def, m, intake });
            this.startWaiting();
          }
        } finally {
          this.fetches.delete(iter);
        }
      } catch (err) {
        if (!this.stopped) {
          this.o.logger.warn({ err: (err as Error).message, activity: def.name }, 'activity pull failed; retrying');
          await new Promise((r) => setTimeout(r, 1_000));
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
      const p = this.run(def, m).finally(() => {
        this.running.delete(p);
        this.executing--;
        this.startWaiting();
      });
      this.running.add(p);
    }
  }

  private async run(def: ActivityDefinition, m: JsMsg): Promise<void> {
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
    const deliveries = m.info.deliveryCount;
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
      const heartbeat = setInterval(() => m.working(), this.o.ackWaitMs / 3);
      try {
        // The activity's own spans (HTTP calls, queries) nest under its span.
        outcome = { result: await inSpan(span, () => def.fn(item.in, { instanceId: item.i, taskId: item.t, attempt: item.a })) };
        this.o.metrics.activitiesRun.inc({ outcome: 'completed' });
      } catch (e) {
        outcome = { failure: toErrorInfo(e) };
        this.o.metrics.activitiesRun.inc({ outcome: 'failed' });
        log.debug({ err: e }, 'activity failed');
      } finally {
        clearInterval(heartbeat);
      }
    }
    const event = outcome.failure ? instanceMessages.taskFailed(item.t, outcome.failure, item.r) : instanceMessages.taskCompleted(item.t, outcome.result, item.r);
    const subject = instanceInboxSubject(this.o.hub.names.hub, item.i, this.o.hub.config.partitions);
    // Per work item (its stream sequence), not per task: a rewound task is a new item whose result must not be deduped away.
    const msgId = `res:${item.i}:${m.seq}`;
    try {
      let data = encodeJson(event);
      if (data.length > (this.o.hub.nc.info?.max_payload ?? 1 << 20) - 4096) {
        data = encodeJson(
          instanceMessages.taskFailed(
            item.t,
            { message: `activity '${def.name}' returned ${data.length} bytes, more than the message limit`, errorType: 'DurableError', code: 'validation' },
            item.r,
          ),
        );
      }
      const trace = spanHeaders(span);
      await this.o.publisher.publish(subject, data, { msgId, ...(trace ? { headers: trace } : {}) });
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
  private async park(m: JsMsg, reason: string): Promise<void> {
    this.o.logger.warn({ subject: m.subject, seq: m.seq, reason }, 'activity work item dead-lettered');
    try {
      await this.o.publisher.publish(deadLetterSubject(this.o.hub.names.hub, 'act'), m.data, {
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
