/**
 * EntityHost: loads entities (last event = full state, one direct get), runs a batch of their
 * messages through the pure executor and returns the commit plan: one fenced append per entity
 * per batch carrying state, bookkeeping and the effects to publish.
 *
 * Invariants: the append is fenced on the entity's last event sequence (a second writer fails);
 * the cache is only updated after the append succeeded; bad messages become dead letters.
 */
import { decodeJson, encodeJson } from '../core/codec.js';
import { decodeToken } from '../core/encoding.js';
import { EntityId } from '../core/entity-id.js';
import { toErrorInfo } from '../core/errors.js';
import { entityIndexKey, entityInboxSubject, eventSubject, inboxSubject, instanceInboxSubject, entityPartition } from '../core/topology.js';
import type { EntityDefinition } from '../entity/definition.js';
import { RESTORE_OPERATION, executeEntityBatch, newSnapshot, type EntityEffect, type EntitySnapshot, type RecordedOperation } from '../entity/executor.js';
import { parseEntityBatch, parseEntityMessage, type CallOutcome, type InboxEntityMessage } from '../entity/messages.js';
import type { Clock } from '../core/clock.js';
import type { Hub } from '../store/hub.js';
import type { ActorHost, CommitPlan, DeadLetterRecord, InboxMessage, Reply, ResolvedEffect } from './actor-host.js';
import { endPending, traceEntityOperations, tracedEffect } from './host-tracing.js';
import { LruCache } from './lru.js';

/** The JSON of one entity event. */
export interface EntityEvent {
  /** 1 when the entity exists (has state), 0 after deleteState. */
  ex: 0 | 1;
  st?: unknown;
  m: EntitySnapshot['meta'];
  fx?: ResolvedEffect[];
  /** The operations applied in this version, in order (history; see RecordedOperation). */
  o?: RecordedOperation[];
  /** Versions written since the last trim of this entity's history (retention). */
  tc?: number;
}

interface CachedEntity {
  snapshot: EntitySnapshot;
  lastEventSeq: number;
  /** `tc` of the last event. */
  sinceTrim: number;
}

/** Versions of each entity kept by default (API.md: at least the last 100; the latest always). */
export const DEFAULT_KEEP_VERSIONS = 100;

export interface OrchestrationMessageFactory {
  /** Body of a start message for an instance created by an entity (start if it does not exist). */
  start(name: string, instanceId: string, input: unknown): unknown;
  /** Body of the response to an orchestration's entity call. */
  entityResponse(requestId: number, outcome: CallOutcome, runId?: string): unknown;
  lockGranted(lockId: number, runId?: string): unknown;
}

export class EntityHost implements ActorHost {
  private readonly cache: LruCache<string, CachedEntity>;

  constructor(
    private readonly hub: Hub,
    private readonly definitions: ReadonlyMap<string, EntityDefinition>,
    private readonly orchestrationMessages: OrchestrationMessageFactory,
    cacheSize: number,
    /** The engine's clock (the fabric's): the test kit's is virtual. */
    private readonly clock: Clock,
    /** Retention: versions kept per entity; the history is trimmed to this after as many more. */
    private readonly keepVersions: number = DEFAULT_KEEP_VERSIONS,
    /** For span attributes. */
    private readonly workerId?: string,
  ) {
    this.cache = new LruCache(cacheSize);
  }

  invalidate(actorToken?: string): void {
    if (actorToken === undefined) this.cache.clear();
    else this.cache.delete(actorToken);
  }

  async prepare(partition: number, actorToken: string, messages: InboxMessage[]): Promise<CommitPlan> {
    const replies: Reply[] = [];
    const deadLetters: DeadLetterRecord[] = [];
    const [, nameToken, keyToken] = actorToken.split('.');
    const id = new EntityId(decodeToken(nameToken!), decodeToken(keyToken!));
    const def = this.definitions.get(id.name);
    const parsed: InboxEntityMessage[] = [];
    for (const m of messages) {
      let body: unknown = m.decoded;
      try {
        if (body === undefined) body = decodeJson(m.data);
      } catch {
        deadLetters.push({ ...m, reason: 'body is not JSON' });
        continue;
      }
      const batch = parseEntityBatch(body);
      if (batch !== undefined) {
        // One entity's share of a partition batch is parked as that share (data of its own).
        const own = m.decoded === undefined ? m : { ...m, data: encodeJson(m.decoded), part: 0 };
        if (typeof batch === 'string') deadLetters.push({ ...own, reason: batch });
        else if (!def) deadLetters.push({ ...own, reason: `no entity named '${id.name}' is registered on this hub's workers` });
        else parsed.push({ seq: m.seq, body: batch[0]!, batch, ...(m.msgId ? { msgId: m.msgId } : {}) });
        continue;
      }
      const check = parseEntityMessage(body);
      if (!check.success) {
        deadLetters.push({ ...m, reason: `not an entity message: ${check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
        continue;
      }
      if (!def) {
        deadLetters.push({ ...m, reason: `no entity named '${id.name}' is registered on this hub's workers` });
        if (check.data.reply) replies.push({ subject: check.data.reply, data: encodeJson(failure('validation', `unknown entity '${id.name}'`)) });
        continue;
      }
      parsed.push({ seq: m.seq, body: check.data, ...(m.msgId ? { msgId: m.msgId } : {}) });
    }
    const subject = eventSubject(this.hub.names.hub, partition, actorToken);
    if (!def || parsed.length === 0) return { effects: [], replies, deadLetters, committed: () => undefined, applied: 0 };

    const cached = this.cache.get(actorToken) ?? (await this.load(subject, def));
    const startTime = Date.now();
    const result = await executeEntityBatch(def, id, cached.snapshot, parsed, (seq, n) => `${id.toString()}:${seq}:${n}`, { now: this.clock.now() });
    const parkedOfBatch = new Map<number, number>();
    for (const d of result.deadLetters) {
      const original = messages.find((m) => m.seq === d.seq)!;
      if (!parsed.some((p) => p.seq === d.seq && p.batch)) {
        deadLetters.push({ ...original, reason: d.reason });
        continue;
      }
      // Of a batch, only the signal that cannot run is parked (the others were applied), each
      // with its own dedupe id (the n-th parked of that message).
      const part = parkedOfBatch.get(d.seq) ?? 0;
      parkedOfBatch.set(d.seq, part + 1);
      deadLetters.push({ ...original, data: encodeJson(d.body), reason: d.reason, part });
    }
    // A restore's caller learns the new version, known only once the event is appended.
    const restoreReplies: Reply[] = [];
    for (const e of result.executed) {
      if (!e.reply) continue;
      const reply = { subject: e.reply, data: encodeJson(e.outcome) };
      replies.push(reply);
      if (e.op === RESTORE_OPERATION && e.outcome.ok) restoreReplies.push(reply);
    }
    const spans = traceEntityOperations({ id, hub: this.hub.names.hub, partition, workerId: this.workerId, messages, executed: result.executed, startTime });
    if (!result.changed) return { effects: [], replies, deadLetters, committed: () => endPending(spans), applied: 0 };

    const effects = result.effects.map(({ seq, effect }, i) => tracedEffect(this.resolve(effect, `fx:${partition}.${actorToken}:${seq}:${i}`), spans?.headers.get(seq)));
    if (result.snapshot.exists !== cached.snapshot.exists) {
      const indexSubject = `$KV.${this.hub.names.entityIndexBucket}.${entityIndexKey(id)}`;
      effects.push(result.snapshot.exists ? { s: indexSubject, d: 1 } : { s: indexSubject, h: { 'KV-Operation': 'DEL' } });
    }
    // Retention: once `keepVersions` versions were written since the last trim, this commit asks
    // for one (run by the partition after the batch is durable). The count is part of the event,
    // so it survives restarts; a trim lost in a crash is only late: the next one keeps the newest.
    let sinceTrim = cached.sinceTrim + 1;
    let trim: CommitPlan['trim'];
    if (sinceTrim >= this.keepVersions) {
      trim = { subject, keep: this.keepVersions };
      sinceTrim = 0;
    }
    const event: EntityEvent = {
      ex: result.snapshot.exists ? 1 : 0,
      ...(result.snapshot.exists ? { st: result.snapshot.state } : {}),
      m: result.snapshot.meta,
      ...(effects.length ? { fx: effects } : {}),
      ...(result.operations.length ? { o: result.operations } : {}),
      ...(sinceTrim ? { tc: sinceTrim } : {}),
    };
    const data = encodeJson(event);
    if (data.length > this.maxEventBytes) return this.refuseOversized(partition, actorToken, subject, cached, parsed, messages, data.length);
    return {
      append: { subject, expectedLastSeq: cached.lastEventSeq, parts: [data] },
      effects,
      replies,
      deadLetters,
      applied: result.applied,
      ...(trim ? { trim } : {}),
      committed: (eventSeq) => {
        this.cache.set(actorToken, { snapshot: result.snapshot, lastEventSeq: eventSeq, sinceTrim });
        // Replies go out after this call (partition loop): patch in the version just written.
        for (const r of restoreReplies) r.data = encodeJson({ ok: true, result: { version: eventSeq } });
        endPending(spans);
      },
    };
  }

  /** An entity's event must fit in one message: its state (plus bookkeeping) is bounded by max_payload. */
  private get maxEventBytes(): number {
    return this.hub.fabric.maxPayload - 16 * 1024;
  }

  /**
   * The batch would make the state too large to store: refuse its operations (state unchanged,
   * callers get a validation error, messages parked with the reason) and consume the messages.
   */
  private refuseOversized(
    partition: number,
    actorToken: string,
    subject: string,
    cached: CachedEntity,
    parsed: InboxEntityMessage[],
    messages: InboxMessage[],
    bytes: number,
  ): CommitPlan {
    const reason = `operation refused: the entity's state would be ${bytes} bytes, over the ${this.maxEventBytes}-byte limit of one message`;
    const error = { message: reason, errorType: 'DurableError', code: 'validation' as const };
    const replies: Reply[] = [];
    const effects: ResolvedEffect[] = [];
    for (const m of parsed) {
      if (m.body.reply) replies.push({ subject: m.body.reply, data: encodeJson({ ok: false, error }) });
      if (m.body.from)
        effects.push(
          this.resolve(
            { kind: 'respond', instanceId: m.body.from.i, requestId: m.body.from.r, outcome: { ok: false, error }, ...(m.body.from.u ? { runId: m.body.from.u } : {}) },
            `fx:${partition}.${actorToken}:${m.seq}:refused`,
          ),
        );
    }
    const meta = { ...cached.snapshot.meta, in: parsed[parsed.length - 1]!.seq };
    const event: EntityEvent = {
      ex: cached.snapshot.exists ? 1 : 0,
      ...(cached.snapshot.exists ? { st: cached.snapshot.state } : {}),
      m: meta,
      ...(effects.length ? { fx: effects } : {}),
      ...(cached.sinceTrim ? { tc: cached.sinceTrim } : {}),
    };
    return {
      append: { subject, expectedLastSeq: cached.lastEventSeq, parts: [encodeJson(event)] },
      effects,
      replies,
      deadLetters: messages.filter((m) => parsed.some((p) => p.seq === m.seq)).map((m) => ({ ...m, reason })),
      applied: 0,
      committed: (eventSeq) => this.cache.set(actorToken, { snapshot: { ...cached.snapshot, meta }, lastEventSeq: eventSeq, sinceTrim: cached.sinceTrim }),
    };
  }

  private async load(subject: string, def: EntityDefinition): Promise<CachedEntity> {
    const last = await this.hub.fabric.readLast(this.hub.names.eventStream, subject);
    if (!last) return { snapshot: newSnapshot(def), lastEventSeq: 0, sinceTrim: 0 };
    const ev = decodeJson<EntityEvent>(last.data);
    return {
      snapshot: { exists: ev.ex === 1, state: ev.ex === 1 ? ev.st : def.initialState(), meta: ev.m },
      lastEventSeq: last.seq,
      sinceTrim: ev.tc ?? 0,
    };
  }

  private resolve(effect: EntityEffect, msgId: string): ResolvedEffect {
    const hub = this.hub.names.hub;
    const partitions = this.hub.config.partitions;
    switch (effect.kind) {
      case 'signal': {
        if (effect.msgId) msgId = effect.msgId;
        const target = EntityId.parse(effect.target);
        const subject = entityInboxSubject(hub, target, partitions);
        if (effect.delayUntil === undefined) return { s: subject, d: effect.body, id: msgId };
        const p = entityPartition(target, partitions);
        return { s: inboxSubject(hub, p, 't'), d: { id: msgId, at: effect.delayUntil, s: subject, d: effect.body }, id: msgId };
      }
      case 'start':
        return { s: instanceInboxSubject(hub, effect.instanceId, partitions), d: this.orchestrationMessages.start(effect.name, effect.instanceId, effect.input), id: msgId };
      case 'respond':
        return {
          s: instanceInboxSubject(hub, effect.instanceId, partitions),
          d: this.orchestrationMessages.entityResponse(effect.requestId, effect.outcome, effect.runId),
          id: msgId,
        };
      case 'lockGranted':
        return { s: instanceInboxSubject(hub, effect.instanceId, partitions), d: this.orchestrationMessages.lockGranted(effect.lockId, effect.runId), id: msgId };
      default: {
        const never: never = effect;
        throw new Error(`unknown effect ${JSON.stringify(never)}`);
      }
    }
  }
}

function failure(code: 'validation', message: string): CallOutcome {
  return { ok: false, error: { ...toErrorInfo(new Error(message)), errorType: 'DurableError', code } };
}
