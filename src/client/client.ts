/**
 * DurableClient: signals, calls and reads entities, and starts and manages orchestration
 * instances, from any process (it needs no definitions: it validates against the hub's catalog).
 *
 * Invariants: input is validated before anything is written; every method that writes resolves
 * only once the write is durable (a JetStream PubAck or a KV revision).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeJson } from '../core/codec.js';
import { EntityId } from '../core/entity-id.js';
import { DurableError, fromErrorInfo } from '../core/errors.js';
import { tracingEnabled } from '../core/tracing.js';
import { normalizeName } from '../core/names.js';
import { decodeToken, encodeToken } from '../core/encoding.js';
import { DEFAULT_HUB, entityActorToken, entityPartition, eventSubject, inboxSubject } from '../core/topology.js';
import type { CallOutcome, EntityMessage } from '../entity/messages.js';
import type { Fabric } from '../store/fabric.js';
import { openHubOn, type Hub } from '../store/hub.js';
import { startupDeadline } from '../store/startup.js';
import type { EntityEvent } from '../worker/entity-host.js';
import { RESTORE_OPERATION } from '../entity/executor.js';
import { CatalogCache } from './catalog-cache.js';
import { ScheduleClient } from './schedules.js';
import type { ScheduleInfo, ScheduleOptions } from '../schedule/definition.js';
import { SCHEDULE_ENTITY } from '../worker/schedule-entity.js';
import { EntityHistoryReader, type EntityHistoryOptions, type EntityHistoryPage, type EntityVersion } from './entity-history.js';
import { traceClientMethods } from './client-tracing.js';
import { InstanceClient } from './instance-client.js';
import { ReplyInbox } from './reply-inbox.js';
import { SignalBatcher, type SignalRoute } from './signal-batcher.js';

export interface DurableClientOptions {
  servers?: string | string[];
  hub?: string;
  replicas?: number;
  /** Partition count used if this client is the first to create the hub. */
  partitions?: number;
  /**
   * Bound of connect(): transient errors of a cluster still forming or electing are retried,
   * logged, until then; then DurableError 'connection' (default 30000; env DURABLE_NATS_STARTUP_TIMEOUT_MS).
   */
  startupTimeoutMs?: number;
  /** Receives the start-up retry warnings (pino); silent when absent. */
  logger?: Logger;
  /**
   * The fabric to use instead of connecting to `servers` (the test kit's MemoryFabric, or a
   * NatsFabric shared with a worker). close() leaves it open: whoever made it closes it.
   */
  fabric?: Fabric;
  /**
   * Send the plain signals issued in one turn together, one message per entity or per partition
   * (default true; docs/architecture.md, "Signal batches"). Off: one message per signal, as
   * workers of releases before batches expect (see the upgrade note in docs/operations.md).
   * Env DURABLE_NATS_BATCH_SIGNALS=false does the same for clients that do not pass it (serve, CLI).
   */
  batchSignals?: boolean;
}

export type EntityIdLike = EntityId | string;

export interface EntityState<S = unknown> {
  exists: boolean;
  state?: S;
  /** Event-stream sequence of the state read (grows with every change). */
  version?: number;
}

export interface ListEntitiesOptions {
  name?: string;
  pageSize?: number;
  continuationToken?: string;
  includeState?: boolean;
}

const batchSignalsOption = (o: DurableClientOptions) => o.batchSignals ?? process.env.DURABLE_NATS_BATCH_SIGNALS !== 'false';

/** Entities whose signal route a client remembers (signalRoute). */
const ROUTE_MEMO = 4_096;

export class DurableClient extends InstanceClient {
  private readonly routes = new Map<string, SignalRoute>();
  /** Signals that could not be batched, in issue order (signalInLine), and how many are waiting. */
  private signalLine: Promise<unknown> = Promise.resolve();
  private signalsInLine = 0;
  private readonly batcher = new SignalBatcher(
    (subject, data) => this.publishNow(subject, data),
    // A body's UTF-16 length x 3 bounds its bytes: keep batches well under the message limit.
    Math.min(192 * 1024, this.maxPayload),
  );
  private readonly history: EntityHistoryReader;
  private readonly schedules: ScheduleClient;

  private constructor(
    hub: Hub,
    catalog: CatalogCache,
    /** Call replies: one subscription for every call of this client. */
    private readonly replies: ReplyInbox<CallOutcome>,
    closeOwned: () => Promise<void>,
    /** DurableClientOptions.batchSignals. */
    private readonly batchSignals: boolean,
  ) {
    super(hub, catalog, closeOwned);
    this.history = new EntityHistoryReader(hub.fabric, hub.names.eventStream);
    this.schedules = new ScheduleClient(this, catalog);
  }

  /**
   * @example const client = await DurableClient.connect({ servers: 'nats://127.0.0.1:4222', hub: 'demo' });
   * @example const client = await DurableClient.connect({ fabric: new MemoryFabric(), hub: 'test' });
   */
  static async connect(options: DurableClientOptions = {}): Promise<DurableClient> {
    const startup = startupDeadline(options.startupTimeoutMs, options.logger);
    const hubOptions = {
      hub: options.hub ?? process.env.DURABLE_NATS_HUB ?? DEFAULT_HUB,
      startup,
      ...(options.replicas !== undefined ? { replicas: options.replicas } : {}),
      ...(options.partitions !== undefined ? { partitions: options.partitions } : {}),
    };
    if (options.fabric) {
      const hub = await openHubOn(options.fabric, hubOptions);
      return DurableClient.on(hub, startup, async () => undefined, batchSignalsOption(options));
    }
    // Loaded here, not imported above: the engine's import graph stays NATS-free (the test kit).
    const { connectHub } = await import('../store/nats-hub.js');
    const nats = await connectHub(options.servers, 'durable-nats client', hubOptions);
    try {
      return await DurableClient.on(nats.hub, startup, () => nats.close(), batchSignalsOption(options));
    } catch (e) {
      await nats.close();
      throw e;
    }
  }

  /** The client on an open hub: its catalog watch and its reply subscription in place. */
  private static async on(hub: Hub, startup: ReturnType<typeof startupDeadline>, closeOwned: () => Promise<void>, batchSignals: boolean): Promise<DurableClient> {
    const catalog = new CatalogCache(hub.kv.catalog, hub.fabric);
    try {
      await catalog.start(startup);
      const replies = await ReplyInbox.open(hub.fabric, (m) => decodeJson<CallOutcome>(m.data));
      return new DurableClient(hub, catalog, replies, closeOwned, batchSignals);
    } catch (e) {
      catalog.stop();
      throw e;
    }
  }

  protected override flushPending(): void {
    this.batcher.flush();
  }

  /** The subject a raw NATS producer publishes to, to signal `id` on this hub. */
  signalSubject(id: EntityIdLike): string {
    return this.signalRoute(EntityId.from(id)).subject;
  }

  /**
   * Where signals to `id` go. Memoized: a hot producer signals the same few entities over and
   * over, and the subject (two token encodings and a hash) is the same each time. Bounded.
   */
  private signalRoute(id: EntityId): SignalRoute {
    const memo = `${id.name}\u0000${id.key}`;
    let route = this.routes.get(memo);
    if (route === undefined) {
      if (this.routes.size >= ROUTE_MEMO) this.routes.clear();
      const partition = entityPartition(id, this.hub.config.partitions);
      const token = entityActorToken(id);
      route = { subject: inboxSubject(this.hub.names.hub, partition, token), token, partitionSubject: inboxSubject(this.hub.names.hub, partition, 'b') };
      this.routes.set(memo, route);
    }
    return route;
  }

  /**
   * Sends a one-way operation; resolves once it is durable. With `at`, it is applied at that time
   * (a durable timer). The same `idempotencyKey` is applied once.
   * @example await client.signalEntity(new EntityId('counter', 'u1'), 'add', 5);
   */
  signalEntity(idLike: EntityIdLike, op: string, input?: unknown, options: { at?: Date; idempotencyKey?: string } = {}): Promise<void> {
    let id: EntityId;
    let opName: string;
    let lookup: Promise<void> | undefined;
    let json: string | undefined;
    try {
      id = EntityId.from(idLike);
      opName = normalizeName(op, 'operation');
      lookup = this.catalog.validateOperation(id.name, opName, input); // undefined: checked already (cached)
      // The common case (no `at`, no key, no trace to carry): batched with the other signals to
      // this entity issued in the same turn (signal-batcher.ts).
      if (this.batchSignals && !lookup && options.at === undefined && options.idempotencyKey === undefined && !tracingEnabled()) {
        json = JSON.stringify(input === undefined ? { op: opName } : { op: opName, input });
      }
    } catch (e) {
      return Promise.reject(e);
    }
    if (json !== undefined && this.signalsInLine === 0) return this.batcher.add(this.signalRoute(id), json);
    return this.signalInLine(id, opName, input, options, lookup);
  }

  /**
   * A signal that cannot be batched (scheduled, keyed, traced, or its entity not yet in the
   * catalog cache), and every signal issued while one of those is still waiting: sent in the
   * order they were issued. A catalog read in flight must not let a later signal overtake an
   * earlier one; the line waits for each one's publish to be sent, not for its PubAck.
   */
  private signalInLine(id: EntityId, opName: string, input: unknown, options: { at?: Date; idempotencyKey?: string }, lookup: Promise<void> | undefined): Promise<void> {
    if (this.signalsInLine === 0 && !lookup) {
      // Nothing waits ahead of it: sent now, like a call, so that what the caller does next comes after it.
      try {
        return this.signalOne(id, opName, input, options).then(() => undefined);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    this.signalsInLine++;
    let acked: Promise<unknown> | undefined;
    const sent = this.signalLine.then(async () => {
      if (lookup) await lookup;
      acked = this.signalOne(id, opName, input, options);
    });
    this.signalLine = sent.catch(() => undefined);
    return sent
      .finally(() => this.signalsInLine--)
      .then(async () => {
        await acked;
      });
  }

  /** Sends one signal now (its publish is issued before this returns); resolves once it is durable. */
  private signalOne(id: EntityId, opName: string, input: unknown, options: { at?: Date; idempotencyKey?: string }): Promise<unknown> {
    const body: EntityMessage = input === undefined ? { op: opName } : { op: opName, input };
    const subject = this.signalSubject(id);
    const msgId = options.idempotencyKey;
    if (msgId !== undefined && (typeof msgId !== 'string' || msgId.length === 0 || msgId.length > 256)) {
      throw new DurableError('validation', 'idempotencyKey must be a string of 1..256 characters');
    }
    if (options.at !== undefined) {
      if (!(options.at instanceof Date) || Number.isNaN(options.at.getTime())) throw new DurableError('validation', '`at` must be a valid Date');
      const timerId = msgId ?? randomUUID();
      const registration = { id: `sig:${timerId}`, at: options.at.getTime(), s: subject, d: body };
      const p = entityPartition(id, this.hub.config.partitions);
      return this.publish(inboxSubject(this.hub.names.hub, p, 't'), registration, `t:${timerId}`);
    }
    return this.publish(subject, body, msgId);
  }

  /**
   * Runs an operation and returns its result (or rejects with its error).
   *
   * Every call carries an id (`idempotencyKey`, or a generated one) as its message id: when a
   * publish gets no PubAck (a NATS node lost, an election), it is sent again with the same id and
   * the same reply subject until the call's deadline, so the server keeps one copy and the one
   * outcome reaches this caller; a call is never applied twice because its first PubAck was lost.
   * @example const value = await client.callEntity('@counter@u1', 'get');
   */
  async callEntity<T = unknown>(idLike: EntityIdLike, op: string, input?: unknown, options: { timeoutMs?: number; idempotencyKey?: string } = {}): Promise<T> {
    const id = EntityId.from(idLike);
    const opName = normalizeName(op, 'operation');
    await this.catalog.validateOperation(id.name, opName, input);
    const callId = options.idempotencyKey ?? randomUUID();
    const body: EntityMessage = { op: opName, k: 'c', ...(input === undefined ? {} : { input }) };
    return this.callRaw<T>(id, body, options.timeoutMs ?? 30_000, callId);
  }

  /**
   * Publishes a call (body without `reply`) to `id` and waits for its outcome. No catalog check:
   * callers validate first (callEntity) or send system operations (restore, schedules). `callId`
   * is the message id of every publish attempt (see callEntity).
   * @internal
   */
  async callRaw<T = unknown>(id: EntityId, message: EntityMessage, timeoutMs: number, callId: string = randomUUID()): Promise<T> {
    if (typeof callId !== 'string' || callId.length === 0 || callId.length > 256) {
      throw new DurableError('validation', 'idempotencyKey must be a string of 1..256 characters');
    }
    const opName = message.op;
    const clock = this.hub.fabric.clock;
    const deadline = clock.now() + timeoutMs;
    const expected = this.replies.expect(timeoutMs, () => new DurableError('timeout', `call ${id.toString()}.${opName} got no answer in ${timeoutMs} ms`));
    const outcome = expected.promise;
    // The answer may time out while the publish is still waiting for its PubAck: observe the
    // rejection now so that it is never reported as unhandled.
    outcome.catch(() => undefined);
    const body: EntityMessage = { ...message, reply: expected.subject };
    // Signals issued before this call that are still waiting for the catalog go first: the call observes them.
    if (this.signalsInLine > 0) await this.signalLine;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.publish(this.signalSubject(id), body, `call:${callId}`);
        break;
      } catch (e) {
        const backoff = Math.min(1_000, 50 * 2 ** attempt);
        const transient = DurableError.is(e, 'timeout') || DurableError.is(e, 'connection');
        if (!transient || clock.now() + backoff >= deadline) {
          expected.cancel(e as Error);
          throw e;
        }
        await clock.sleep(backoff);
      }
    }
    const result = await outcome;
    if (!result.ok) throw fromErrorInfo(result.error ?? { message: 'operation failed', errorType: 'Error' });
    return result.result as T;
  }

  /**
   * The entity's committed state. A never-used entity is `{ exists: false }`. With `{ version }`
   * or `{ at }`, the state as of that version, or of the last version at or before `at`
   * (`not-found` if it is not kept).
   * @example const { state, version } = await client.readEntityState('@counter@x');
   * @example const then = await client.readEntityState('@counter@x', { at: new Date(Date.now() - 60_000) });
   */
  async readEntityState<S = unknown>(idLike: EntityIdLike): Promise<EntityState<S>>;
  async readEntityState<S = unknown>(idLike: EntityIdLike, at: { version: number } | { at: Date }): Promise<EntityVersion<S>>;
  async readEntityState<S = unknown>(idLike: EntityIdLike, at?: { version: number } | { at: Date }): Promise<EntityState<S> | EntityVersion<S>> {
    const id = EntityId.from(idLike);
    const subject = this.entityEventSubject(id);
    if (at !== undefined) {
      if ('version' in at) return this.history.atVersion<S>(subject, at.version);
      if ('at' in at) return this.history.atTime<S>(subject, at.at);
      throw new DurableError('validation', 'readEntityState: pass { version } or { at }');
    }
    const last = await this.hub.fabric.readLast(this.hub.names.eventStream, subject);
    if (!last) return { exists: false };
    const ev = decodeJson<EntityEvent>(last.data);
    return ev.ex === 1 ? { exists: true, state: ev.st as S, version: last.seq } : { exists: false, version: last.seq };
  }

  /**
   * The entity's versions with the operations applied in each, oldest first unless `reverse`.
   * @example const { versions, next } = await client.entityHistory('@counter@x', { limit: 50 });
   */
  async entityHistory<S = unknown>(idLike: EntityIdLike, options: EntityHistoryOptions = {}): Promise<EntityHistoryPage<S>> {
    return this.history.history<S>(this.entityEventSubject(EntityId.from(idLike)), options);
  }

  /**
   * The current state, then every committed version, pushed, until `signal` aborts.
   * @example for await (const v of client.watchEntity('@counter@x', { signal })) console.log(v.version, v.state);
   */
  watchEntity<S = unknown>(idLike: EntityIdLike, options: { signal?: AbortSignal } = {}): AsyncIterable<EntityVersion<S>> {
    const subject = this.entityEventSubject(EntityId.from(idLike));
    return this.history.watch<S>(subject, options.signal);
  }

  /**
   * Writes a new version whose state equals `version`'s. It goes through the entity's inbox like
   * any operation (serialized with the others) and resolves to the new version.
   * @example const { version } = await client.restoreEntity('@counter@x', { version: 42 });
   */
  async restoreEntity(idLike: EntityIdLike, options: { version: number; timeoutMs?: number }): Promise<{ version: number }> {
    const id = EntityId.from(idLike);
    const old = await this.history.atVersion(this.entityEventSubject(id), options.version);
    const input = { version: old.version, exists: old.exists, ...(old.exists ? { state: old.state } : {}) };
    return this.callRaw<{ version: number }>(id, { op: RESTORE_OPERATION, k: 'restore', input }, options.timeoutMs ?? 30_000);
  }

  private entityEventSubject(id: EntityId): string {
    return eventSubject(this.hub.names.hub, entityPartition(id, this.hub.config.partitions), entityActorToken(id));
  }

  /**
   * Creates a recurring schedule: `cron` (5 fields, optional `timezone`) or `every` (ms), an
   * action (start an orchestration, or signal an entity), `overlap`, `startAt`, `endAt`, `paused`.
   * `instance-exists` if the id is taken; `validation` for a bad definition.
   * @example await client.createSchedule('nightly', { cron: '0 2 * * *', timezone: 'Europe/Paris', action: { startNew: { name: 'report' } } });
   */
  createSchedule(id: string, options: ScheduleOptions): Promise<void> {
    return this.schedules.create(id, options);
  }
  /** The schedule, with its next runs and last run, or undefined. */
  getSchedule(id: string): Promise<ScheduleInfo | undefined> {
    return this.schedules.get(id);
  }
  /** Every schedule of the hub, by id. */
  listSchedules(): Promise<{ schedules: ScheduleInfo[] }> {
    return this.schedules.list();
  }
  /** Stops ticking until resumeSchedule (ticks missed meanwhile are not run). */
  pauseSchedule(id: string): Promise<void> {
    return this.schedules.pause(id);
  }
  resumeSchedule(id: string): Promise<void> {
    return this.schedules.resume(id);
  }
  /** Runs the action once now (instance id `<id>@<now ISO>`). */
  triggerSchedule(id: string): Promise<{ instanceId?: string }> {
    return this.schedules.trigger(id);
  }
  /** `not-found` if there is no such schedule. */
  deleteSchedule(id: string): Promise<void> {
    return this.schedules.delete(id);
  }

  /** Ids of a system entity type, sorted (hidden from listEntities). @internal */
  async systemEntityIds(name: string): Promise<EntityId[]> {
    const keys = await this.hub.kv.entityIndex.keys(`${encodeToken(name)}.>`);
    const ids: EntityId[] = [];
    for (const k of keys) {
      const id = idFromIndexKey(k);
      if (id) ids.push(id);
    }
    return ids.sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
  }

  /** Lists entities that exist, sorted by id, a page at a time. */
  async listEntities(options: ListEntitiesOptions = {}): Promise<{ entities: Array<{ id: string; state?: unknown }>; continuationToken?: string }> {
    const pageSize = options.pageSize ?? 100;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) throw new DurableError('validation', 'pageSize must be an integer in 1..10000');
    const filter = options.name ? `${encodeToken(normalizeName(options.name, 'entity'))}.>` : '>';
    const after = options.continuationToken ? decodeContinuation(options.continuationToken) : undefined;
    const keys = await this.hub.kv.entityIndex.keys(filter);
    const ids: string[] = [];
    for (const k of keys) {
      const id = idFromIndexKey(k);
      // System entities (schedules) are listed by their own methods.
      if (id && (id.name !== SCHEDULE_ENTITY || options.name !== undefined)) ids.push(id.toString());
    }
    ids.sort();
    const start = after === undefined ? 0 : ids.findIndex((s) => s > after);
    const page = start < 0 ? [] : ids.slice(start, start + pageSize);
    const entities = await Promise.all(
      page.map(async (id) => {
        if (!options.includeState) return { id };
        const s = await this.readEntityState(id);
        return { id, ...(s.exists ? { state: s.state } : {}) };
      }),
    );
    const more = start >= 0 && start + pageSize < ids.length;
    return { entities, ...(more ? { continuationToken: encodeContinuation(page[page.length - 1]!) } : {}) };
  }

  override async close(): Promise<void> {
    this.batcher.flush(); // signals issued just before close are sent (their promises settle as the connection drains)
    this.replies.close();
    await super.close();
  }
}

// Spans for signalEntity, callEntity, startNew, raiseEvent and the control operations.
traceClientMethods(DurableClient.prototype);

function idFromIndexKey(indexKey: string): EntityId | undefined {
  const [nameToken, keyToken] = indexKey.split('.');
  try {
    return new EntityId(decodeToken(nameToken!), decodeToken(keyToken!));
  } catch {
    return undefined;
  }
}

const encodeContinuation = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
function decodeContinuation(token: string): string {
  const s = Buffer.from(token, 'base64url').toString('utf8');
  if (!s.startsWith('@')) throw new DurableError('validation', 'malformed continuationToken');
  return s;
}
