/**
 * ActivityRunner: pulls activity work items (one durable consumer per activity name, shared by
 * every worker that registers it), runs them, and sends TaskCompleted / TaskFailed to the
 * instance's inbox before acking.
 *
 * Invariants: an activity is acked only after its result is durable (so a crash re-runs it:
 * at-least-once; the instance applies the first result of a task id and ignores the rest); a
 * long activity keeps its claim with working() heartbeats; an item delivered MAX_ATTEMPTS times
 * without completing becomes a TaskFailed (never a silent loss); stop() lets running ones finish.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, type ConsumerInfo, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { encodeToken } from '../core/encoding.js';
import { toErrorInfo } from '../core/errors.js';
import { activitySubject, instanceInboxSubject } from '../core/topology.js';
import type { ActivityDefinition } from '../orchestration/definition.js';
import type { Hub } from '../store/hub.js';
import type { LeanPublisher } from '../store/lean-publisher.js';
import { apiErrorCode, isAlreadyExists, withStartupRetry, type StartupRetryOptions } from '../store/transient.js';
import type { WorkerMetrics } from './metrics.js';
import { Semaphore } from './semaphore.js';
import type { ActivityWorkItem } from './orchestration-host.js';

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
}

export class ActivityRunner {
  private readonly iterators: ConsumerMessages[] = [];
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private readonly slots: Semaphore;

  constructor(private readonly o: ActivityRunnerOptions) {
    this.slots = new Semaphore(o.concurrency);
  }

  /** Creates or binds every activity's consumer, retrying transient errors until the start-up deadline. */
  async start(startup?: StartupRetryOptions): Promise<void> {
    const { hub } = this.o;
    for (const def of this.o.activities.values()) {
      const durable = `act-${encodeToken(def.name)}`;
      // "already in use": another worker created it between our info and add; the retry's info binds it.
      await withStartupRetry(`activity consumer ${durable}`, () => this.ensureConsumer(def, durable), { ...startup, retryAlso: isAlreadyExists });
      const consumer = await withStartupRetry(`activity consumer ${durable} lookup`, () => hub.js.consumers.get(hub.names.activityStream, durable), startup);
      // Short pull expiry: after a NATS node or cluster restart a pull is only re-issued when the old
      // one expires (30 s by default), which left activities idle that long.
      const iter = await consumer.consume({ max_messages: Math.max(8, this.o.concurrency), expires: 5_000, idle_heartbeat: 1_000 } as any);
      this.iterators.push(iter);
      void this.loop(def, iter);
    }
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
    for (const it of this.iterators) it.stop();
    await Promise.allSettled([...this.running]);
  }

  private async loop(def: ActivityDefinition, iter: ConsumerMessages): Promise<void> {
    try {
      for await (const m of iter) {
        if (this.stopped) { m.nak(); break; }
        await this.slots.acquire();
        const p = this.run(def, m).finally(() => {
          this.running.delete(p);
          this.slots.release();
        });
        this.running.add(p);
      }
    } catch (err) {
      if (!this.stopped) this.o.logger.error({ err, activity: def.name }, 'activity consumer failed');
    }
  }

  private async run(def: ActivityDefinition, m: JsMsg): Promise<void> {
    let item: ActivityWorkItem;
    try {
      item = decodeJson<ActivityWorkItem>(m.data);
      if (typeof item.i !== 'string' || typeof item.t !== 'number') throw new Error('bad shape');
    } catch {
      this.o.logger.warn({ subject: m.subject, seq: m.seq }, 'malformed activity work item dropped');
      m.term();
      return;
    }
    const log = this.o.logger.child({ instanceId: item.i, activity: def.name, taskId: item.t });
    const deliveries = m.info.deliveryCount;
    if (deliveries > 1) this.o.metrics.activityRedeliveries.inc();
    let outcome: { result?: unknown; failure?: ReturnType<typeof toErrorInfo> };
    if (deliveries > MAX_ATTEMPTS) {
      outcome = { failure: { message: `activity '${def.name}' was delivered ${deliveries} times without completing (did it crash its worker?)`, errorType: 'ActivityAbandoned' } };
    } else {
      const heartbeat = setInterval(() => m.working(), this.o.ackWaitMs / 3);
      try {
        outcome = { result: await def.fn(item.in, { instanceId: item.i, taskId: item.t, attempt: item.a }) };
        this.o.metrics.activitiesRun.inc({ outcome: 'completed' });
      } catch (e) {
        outcome = { failure: toErrorInfo(e) };
        this.o.metrics.activitiesRun.inc({ outcome: 'failed' });
        log.debug({ err: e }, 'activity failed');
      } finally {
        clearInterval(heartbeat);
      }
    }
    const base = { taskId: item.t, ...(item.r ? { runId: item.r } : {}) };
    const event = outcome.failure ? { type: 'TaskFailed', ...base, failure: outcome.failure } : { type: 'TaskCompleted', ...base, ...(outcome.result === undefined ? {} : { result: outcome.result }) };
    const subject = instanceInboxSubject(this.o.hub.names.hub, item.i, this.o.hub.config.partitions);
    // Per work item (its stream sequence), not per task: a rewound task is a new item whose result must not be deduped away.
    const msgId = `res:${item.i}:${m.seq}`;
    try {
      let data = encodeJson(event);
      if (data.length > (this.o.hub.nc.info?.max_payload ?? 1 << 20) - 4096) {
        data = encodeJson({ type: 'TaskFailed', ...base, failure: { message: `activity '${def.name}' returned ${data.length} bytes, more than the message limit`, errorType: 'DurableError', code: 'validation' } });
      }
      await this.o.publisher.publish(subject, data, { msgId });
      m.ack();
    } catch (err) {
      log.warn({ err }, 'could not deliver activity result; it will run again');
      m.nak(1_000);
    }
  }
}
