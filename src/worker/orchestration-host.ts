/**
 * OrchestrationHost: the worker side of orchestration instances. Loads an instance's history
 * (one event message per committed batch), feeds the batch's inbound messages to the pure
 * InstanceRuntime, and returns the commit plan: the new history events, the status record and
 * the actions (activities, timers, sub-orchestrations, entity messages) as effects.
 *
 * Invariants: history is appended fenced on the instance's last event (one writer); actions are
 * recorded in the event and published only after it is durable; a message already applied
 * (seq <= the `in` recorded with history) is skipped; a new run (reset) is written as a marker
 * event so that a crash between it and trimming the old run never mixes two runs.
 */
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { decodeToken } from '../core/encoding.js';
import { EntityId } from '../core/entity-id.js';
import { activitySubject, entityInboxSubject, eventSubject, inboxSubject, instanceInboxSubject, statusKey } from '../core/topology.js';
import type { EntityMessage } from '../entity/messages.js';
import type { OrchestratorAction } from '../orchestration/actions.js';
import type { HistoryEvent } from '../orchestration/history.js';
import { InstanceRuntime, type OrchestrationRegistry } from '../orchestration/instance.js';
import { activityWorkItem, instanceMessages, parseOrchestrationMessage } from '../orchestration/messages.js';
import { HistoryAssembler } from '../store/history-records.js';
import type { Hub } from '../store/hub.js';
import { encodeRecordParts, type ActorHost, type CommitPlan, type DeadLetterRecord, type InboxMessage, type ResolvedEffect } from './actor-host.js';
import { recordError } from '../core/tracing.js';
import { endPending, traceEpisode, tracedEffect } from './host-tracing.js';
import { runEagerRounds } from './eager-activities.js';
import type { LocalActivities, LocalActivitySlot } from './local-activities.js';
import { LruCache } from './lru.js';
import type { WorkerMetrics } from './metrics.js';

/** The JSON of one orchestration event message. */
export interface InstanceEvent {
  /** History events appended by this batch (with `reset`, the whole new run). */
  h: HistoryEvent[];
  /** The new run starts here: ignore earlier messages of this subject. */
  reset?: true;
  /** More parts of this record follow (a record too big for one message). */
  more?: true;
  /** Highest inbox sequence applied. */
  in: number;
  fx?: ResolvedEffect[];
}

export type { ActivityWorkItem } from '../orchestration/messages.js';

interface CachedInstance {
  runtime: InstanceRuntime;
  lastEventSeq: number;
  lastIn: number;
  /** The status last written (without lastUpdatedTime) and when: unchanged ones are not rewritten often. */
  status?: { key: string; at: number };
}

/** A Running instance whose status did not change gets lastUpdatedTime refreshed at most this often. */
const STATUS_REFRESH_MS = 1_000;
/** Bound of the set of instances presumed new whose append has not settled yet. */
const MAX_PRESUMED_NEW = 10_000;

export class OrchestrationHost implements ActorHost {
  private readonly cache: LruCache<string, CachedInstance>;
  /**
   * Instances whose batch starts with ExecutionStarted and that were not cached: prepared as new
   * (empty history, fenced on "subject empty") without reading the store first, once. The fence
   * says if they were not new; the retry after it (the committer invalidates and prepares again)
   * then loads, because the token is still here.
   */
  private readonly presumedNew = new Set<string>();
  /** Eager claims of each actor's prepared plan until it commits (then the partition has them). */
  private readonly claims = new Map<string, LocalActivitySlot[]>();

  constructor(
    private readonly hub: Hub,
    private readonly registry: OrchestrationRegistry,
    private readonly logger: Logger,
    private readonly metrics: WorkerMetrics,
    cacheSize: number,
    /** For span attributes. */
    private readonly workerId?: string,
    /** Runs activities eagerly, before the event that schedules them is written (eager-activities.ts). */
    private readonly local?: LocalActivities,
  ) {
    this.cache = new LruCache(cacheSize);
  }

  private get maxPayload(): number {
    return this.hub.fabric.maxPayload;
  }

  invalidate(actorToken?: string): void {
    if (actorToken === undefined) {
      this.cache.clear();
      for (const token of [...this.claims.keys()]) this.releaseClaims(token);
    } else {
      this.cache.delete(actorToken);
      this.releaseClaims(actorToken);
    }
  }

  /** A plan that will not be committed: its eager claims are given back (started runs are dropped). */
  private releaseClaims(actorToken: string): void {
    for (const slot of this.claims.get(actorToken) ?? []) slot.release();
    this.claims.delete(actorToken);
  }

  async prepare(partition: number, actorToken: string, messages: InboxMessage[]): Promise<CommitPlan> {
    const instanceId = decodeToken(actorToken.slice(2));
    const subject = eventSubject(this.hub.names.hub, partition, actorToken);
    const cached = this.cache.get(actorToken) ?? (await this.loadOrPresumeNew(instanceId, actorToken, subject, messages));
    const presumed = cached.lastEventSeq === 0 && this.presumedNew.has(actorToken) ? { presumedNew: true as const } : {};
    const deadLetters: DeadLetterRecord[] = [];
    const events: HistoryEvent[] = [];
    let lastSeq = cached.lastIn;
    for (const m of messages) {
      if (!m.local) {
        if (m.seq <= cached.lastIn) continue;
        lastSeq = m.seq;
      }
      let body: unknown;
      try {
        body = decodeJson(m.data);
      } catch {
        deadLetters.push({ ...m, reason: 'body is not JSON' });
        continue;
      }
      const parsed = parseOrchestrationMessage(body);
      if (!parsed.ok) {
        deadLetters.push({ ...m, reason: parsed.reason });
        continue;
      }
      // A start keeps its producer's trace context in history (never compared by replay), so that
      // every later episode of the run, on any worker, joins the trace that started it.
      events.push(m.trace && parsed.message.type === 'ExecutionStarted' ? { ...parsed.message, trace: m.trace } : parsed.message);
    }
    const nothing: CommitPlan = { effects: [], replies: [], deadLetters, committed: () => undefined, applied: 0 };
    if (events.length === 0) return nothing;

    const clock = this.hub.fabric.clock;
    const now = new Date(clock.now()).toISOString();
    const startTime = Date.now(); // a span's start: real time
    let result = cached.runtime.process(events, now);
    this.metrics.orchestrationSteps.inc();
    if (result.appended.length === 0 && !result.reset) {
      // Every message was a no-op for this instance (duplicates, late results). Still record that
      // they were consumed, with a fenced append: if our view of the history was stale (a read
      // answered by a lagging replica, another writer), the fence says so and we reload, instead
      // of silently dropping messages that the real history would have used.
      if (result.dropped.length) this.logger.debug({ instanceId, dropped: result.dropped.map((d) => d.type) }, 'messages had no effect');
      return {
        append: { subject, expectedLastSeq: cached.lastEventSeq, parts: [encodeJson({ h: [], in: lastSeq })], ...presumed },
        effects: [],
        replies: [],
        deadLetters,
        applied: 0,
        committed: (seq) => {
          this.presumedNew.delete(actorToken);
          this.cache.set(actorToken, { ...cached, lastEventSeq: seq, lastIn: lastSeq });
        },
      };
    }
    const start = cached.runtime.history[0];
    const spans = traceEpisode({
      instanceId,
      name: start?.type === 'ExecutionStarted' ? start.name : undefined,
      hub: this.hub.names.hub,
      partition,
      workerId: this.workerId,
      start: start?.type === 'ExecutionStarted' ? start.trace : undefined,
      messages,
      count: events.length,
      startTime,
    });
    let claimed: Map<OrchestratorAction, LocalActivitySlot> | undefined;
    // Not for a start presumed new that only starts if the instance does not exist (raw and
    // event-triggered starts, starts from entities): producers send those again on purpose, a no-op
    // for an existing instance, and an eager round would run that instance's first activity before
    // the fence says it exists. Those run once their start is durable, like any local activity.
    const duplicateStartPossible = presumed.presumedNew === true && events[0]?.type === 'ExecutionStarted' && events[0].mode === 'ifNotExists';
    if (this.local && result.actions.length > 0 && !result.reset && !duplicateStartPossible) {
      const held: LocalActivitySlot[] = [];
      this.claims.set(actorToken, held);
      ({ result, claimed } = await runEagerRounds({
        runtime: cached.runtime,
        first: result,
        local: this.local,
        workItem: (a) => tracedEffect(this.resolve(instanceId, partition, a, ''), spans?.headers.get(-1)),
        now: () => new Date(clock.now()).toISOString(),
        held,
      }));
    }
    if (spans && result.status?.runtimeStatus === 'Failed') recordError(spans.spans[0]!, result.status.failureDetails);
    // Effect ids (dedupe ids, timer ids) are unique per committed event: the fence moves with
    // every commit, also for a batch of local activity results, which does not move `lastSeq`.
    const effects = result.actions.map((a, i) =>
      tracedEffect(this.resolve(instanceId, partition, a, `ofx:${partition}.${actorToken}:${lastSeq}.${cached.lastEventSeq}:${i}`), spans?.headers.get(-1)),
    );
    // The status record is rewritten when something a reader can see changed (runtime status,
    // custom status, output, failure), and otherwise at most once a second: a fan-in of 10,000
    // results need not write 10,000 identical statuses.
    let status = cached.status;
    if (result.status) {
      const { lastUpdatedTime: _ignored, ...visible } = result.status;
      const key = JSON.stringify(visible);
      const now = clock.now();
      if (!status || status.key !== key || now - status.at >= STATUS_REFRESH_MS || result.reset) {
        // _v: the history position this status reflects (the append's fence grows with every commit).
        effects.push({ s: `$KV.${this.hub.names.statusBucket}.${statusKey(instanceId)}`, d: { ...result.status, _v: cached.lastEventSeq + 1 }, v: cached.lastEventSeq + 1 });
        status = { key, at: now };
      }
    }
    // Activities claimed by the eager rounds and not finished: the partition runs them after the commit.
    const claims = new Map<number, LocalActivitySlot>();
    if (claimed?.size) result.actions.forEach((a, i) => claimed.has(a) && claims.set(i, claimed.get(a)!));
    const parts = encodeRecordParts({ h: result.appended, fx: effects }, { in: lastSeq }, result.reset ? { reset: true } : {}, this.maxPayload, encodeJson);
    let committedSeq = 0;
    return {
      append: { subject, expectedLastSeq: cached.lastEventSeq, parts, ...presumed },
      effects,
      replies: [],
      deadLetters,
      applied: events.length - result.dropped.length,
      ...(claims.size > 0 ? { claims } : {}),
      committed: (seq, firstSeq) => {
        committedSeq = firstSeq;
        this.claims.delete(actorToken); // the partition runs or releases them now
        this.presumedNew.delete(actorToken);
        this.cache.set(actorToken, { runtime: cached.runtime, lastEventSeq: seq, lastIn: lastSeq, ...(status ? { status } : {}) });
        endPending(spans);
      },
      ...(result.reset && cached.lastEventSeq > 0
        ? {
            // The previous run is dead weight once the new run's marker is durable.
            afterCommit: async () => {
              await this.hub.fabric
                .purge(this.hub.names.eventStream, { filter: subject, beforeSeq: committedSeq })
                .catch((err) => this.logger.warn({ err, instanceId }, 'trimming the previous run failed; it is ignored on load anyway'));
            },
          }
        : {}),
    };
  }

  /**
   * An instance this worker does not hold: its history from the store, or, when its batch starts
   * with ExecutionStarted (a new instance, nearly always: generated ids are new by construction),
   * an empty history without reading the store (one round trip less per start). That view is
   * appended fenced on "subject empty" (expected last sequence 0), so if the instance did exist,
   * the server rejects the append and the committer prepares again: this time it loads.
   */
  private async loadOrPresumeNew(instanceId: string, actorToken: string, subject: string, messages: InboxMessage[]): Promise<CachedInstance> {
    if (!this.presumedNew.has(actorToken) && startsWithStart(messages)) {
      if (this.presumedNew.size >= MAX_PRESUMED_NEW) this.presumedNew.clear(); // only costs those a read
      this.presumedNew.add(actorToken);
      return { runtime: InstanceRuntime.fromHistory(this.registry, instanceId, []), lastEventSeq: 0, lastIn: 0 };
    }
    this.presumedNew.delete(actorToken);
    return this.load(instanceId, subject);
  }

  private async load(instanceId: string, subject: string): Promise<CachedInstance> {
    const last = await this.hub.fabric.readLast(this.hub.names.eventStream, subject);
    if (!last) return { runtime: InstanceRuntime.fromHistory(this.registry, instanceId, []), lastEventSeq: 0, lastIn: 0 };
    const records = new HistoryAssembler<HistoryEvent>();
    let lastEventSeq = 0;
    await this.hub.fabric.scan(this.hub.names.eventStream, subject, 1, (m) => {
      records.add(decodeJson<InstanceEvent>(m.data));
      lastEventSeq = m.seq; // the fence is the subject's last message, finished or not
    }); // to the leader's last message, not `last` (a DIRECT.GET may come from a lagging replica)
    const history = records.history;
    const lastIn = records.lastIn;
    return { runtime: InstanceRuntime.fromHistory(this.registry, instanceId, history), lastEventSeq, lastIn };
  }

  private resolve(instanceId: string, partition: number, a: OrchestratorAction, msgId: string): ResolvedEffect {
    const hub = this.hub.names.hub;
    const partitions = this.hub.config.partitions;
    switch (a.type) {
      case 'scheduleActivity': {
        const item = activityWorkItem({
          instanceId,
          taskId: a.taskId,
          name: a.name,
          attempt: a.attempt,
          ...(a.runId ? { runId: a.runId } : {}),
          ...(a.input === undefined ? {} : { input: a.input }),
        });
        return { s: activitySubject(hub, a.name), d: item, id: msgId };
      }
      case 'createTimer': {
        const fired = instanceMessages.timerFired(a.timerId, a.fireAt, a.runId);
        const timer = { id: msgId, at: Date.parse(a.fireAt), s: instanceInboxSubject(hub, instanceId, partitions), d: fired };
        return { s: inboxSubject(hub, partition, 't'), d: timer, id: msgId };
      }
      case 'startSubOrchestration':
        return {
          s: instanceInboxSubject(hub, a.instanceId, partitions),
          d: instanceMessages.started({ name: a.name, instanceId: a.instanceId, parent: a.parent, mode: 'replaceTerminal', ...(a.input === undefined ? {} : { input: a.input }) }),
          id: msgId,
        };
      case 'sendEntityMessage': {
        const body = entityMessage(instanceId, a);
        return { s: entityInboxSubject(hub, EntityId.parse(a.entityId), partitions), d: body, id: msgId };
      }
      case 'sendEvent':
        return { s: instanceInboxSubject(hub, a.instanceId, partitions), d: instanceMessages.eventRaised(a.name, a.data), id: msgId };
      case 'notifyParent':
        return { s: instanceInboxSubject(hub, a.instanceId, partitions), d: a.event, id: msgId };
      default: {
        const never: never = a;
        throw new Error(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }
}

/** True when the first message is an ExecutionStarted (a cheap look: no schema check here). */
function startsWithStart(messages: InboxMessage[]): boolean {
  const first = messages[0];
  if (!first) return false;
  try {
    return (decodeJson(first.data) as { type?: unknown } | null)?.type === 'ExecutionStarted';
  } catch {
    return false;
  }
}

function entityMessage(instanceId: string, a: Extract<OrchestratorAction, { type: 'sendEntityMessage' }>): EntityMessage {
  const run = a.runId ? { u: a.runId } : {};
  switch (a.kind) {
    case 'signal':
      return { op: a.op!, ...(a.input === undefined ? {} : { input: a.input }), ...(a.lockId !== undefined ? { lo: instanceId } : {}) };
    case 'call':
      return { op: a.op!, k: 'c', from: { i: instanceId, r: a.requestId!, ...run }, ...(a.input === undefined ? {} : { input: a.input }) };
    case 'lock':
      return { op: '__lock', k: 'lock', lock: { o: instanceId, l: a.lockId!, ids: a.lockSet!, n: 0, ...run } };
    case 'unlock':
      return { op: '__unlock', k: 'unlock', lock: { o: instanceId, l: a.lockId!, ids: [], n: 0 } };
    default: {
      const never: never = a.kind;
      throw new Error(`unknown entity message kind ${String(never)}`);
    }
  }
}
