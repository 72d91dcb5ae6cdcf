/**
 * The orchestration context: the only door from orchestration code to time, ids and the outside.
 * Invariant: every method is replay-safe: it either reads state derived from history (clock,
 * replay flag, GUID counter) or records a step with the next sequence id via the executor.
 */
import { EntityId } from '../core/entity-id.js';
import { DurableError } from '../core/errors.js';
import { normalizeName } from '../core/names.js';
import type { ActivityDefinition, OrchestrationDefinition } from './definition.js';
import { uuidV5 } from './guid.js';
import { retrying, validateRetryPolicy, type RetryPolicy } from './retry.js';
import { type Task, whenAll, whenAny, type TaskResult, type TimerTask } from './tasks.js';

/** A held (or requested) lock over several entities; released by `release()` or at completion. */
export interface EntityLock {
  readonly lockId: number;
  /** Sorted, deduplicated '@name@key' ids. */
  readonly entityIds: readonly string[];
  release(): void;
}

export type EntityRef = EntityId | string | { name: string; key: string };

/** Logger shape accepted by the executor (pino-compatible: object first, message second). */
export interface OrchestrationLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** `ctx.log.info('shipped', { orderId })`; silent while replaying. */
export type ReplaySafeLog = Record<LogLevel, (message: string, fields?: Record<string, unknown>) => void>;

/** What the context needs from the executor. @internal */
export interface ContextHost {
  readonly instanceId: string;
  readonly isReplaying: boolean;
  readonly now: Date;
  scheduleActivity(name: string, input: unknown, attempt: number): Task<unknown>;
  scheduleSubOrchestration(name: string, input: unknown, instanceId: string | undefined): Task<unknown>;
  scheduleTimer(fireAt: Date): TimerTask;
  waitForEvent(name: string): Task<unknown>;
  sendEvent(instanceId: string, name: string, data: unknown): void;
  signalEntity(entityId: string, op: string, input: unknown): void;
  callEntity(entityId: string, op: string, input: unknown): Task<unknown>;
  lockEntities(entityIds: string[]): Task<EntityLock>;
  setCustomStatus(value: unknown): void;
  continueAsNew(input: unknown): void;
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/**
 * The `ctx` of an orchestration (API.md). Everything here is deterministic under replay.
 * @example const x = yield ctx.callActivity('sayHello', 'Tokyo', { retry: { maxAttempts: 3, firstRetryIntervalMs: 1000 } });
 */
export class OrchestrationContext {
  #host: ContextHost;
  #guids = 0;
  /** Replay-safe logging (no-op while replaying). */
  readonly log: ReplaySafeLog;

  /** @internal */
  constructor(host: ContextHost) {
    this.#host = host;
    const at = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => host.log(level, message, fields);
    this.log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  get instanceId(): string {
    return this.#host.instanceId;
  }
  /** True while the code re-executes steps already in history. */
  get isReplaying(): boolean {
    return this.#host.isReplaying;
  }
  /** Time of the newest history event processed so far (never the wall clock). */
  get currentUtcDateTime(): Date {
    return new Date(this.#host.now.getTime());
  }

  /** A UUID that is the same on every replay (v5 of instance id, clock and a counter). */
  newGuid(): string {
    return uuidV5(`${this.instanceId}_${this.#host.now.toISOString()}_${this.#guids++}`);
  }

  /** Schedules an activity; its failure is thrown into the generator as `operation-failed`. */
  callActivity<O>(activity: ActivityDefinition<any, O>, input?: unknown, options?: { retry?: RetryPolicy }): Task<O>;
  callActivity<O = any>(name: string, input?: unknown, options?: { retry?: RetryPolicy }): Task<O>;
  callActivity(nameOrDef: string | ActivityDefinition, input?: unknown, options: { retry?: RetryPolicy } = {}): Task<unknown> {
    const name = normalizeName(typeof nameOrDef === 'string' ? nameOrDef : nameOrDef.name, 'activity');
    if (!options.retry) return this.#host.scheduleActivity(name, input, 1);
    return this.#retry(validateRetryPolicy(options.retry), (attempt) => this.#host.scheduleActivity(name, input, attempt));
  }

  /** Starts a child orchestration (default id `${instanceId}:${taskId}`) and waits for its output. */
  callSubOrchestrator<O>(def: OrchestrationDefinition<any, O>, input?: unknown, options?: { instanceId?: string; retry?: RetryPolicy }): Task<O>;
  callSubOrchestrator<O = any>(name: string, input?: unknown, options?: { instanceId?: string; retry?: RetryPolicy }): Task<O>;
  callSubOrchestrator(nameOrDef: string | OrchestrationDefinition, input?: unknown, options: { instanceId?: string; retry?: RetryPolicy } = {}): Task<unknown> {
    const name = normalizeName(typeof nameOrDef === 'string' ? nameOrDef : nameOrDef.name, 'orchestration');
    const start = () => this.#host.scheduleSubOrchestration(name, input, options.instanceId);
    return options.retry ? this.#retry(validateRetryPolicy(options.retry), start) : start();
  }

  /** A durable timer firing at `fireAt`; `cancel()` it when another branch won. */
  createTimer(fireAt: Date): TimerTask {
    if (!(fireAt instanceof Date) || Number.isNaN(fireAt.getTime())) throw new DurableError('validation', 'createTimer needs a valid Date');
    return this.#host.scheduleTimer(fireAt);
  }

  /** Waits for event `name` (case-insensitive); events raised earlier are buffered, matched FIFO. */
  waitForExternalEvent<T = any>(name: string): Task<T> {
    return this.#host.waitForEvent(normalizeName(name, 'event')) as Task<T>;
  }

  /** Raises event `name` on another instance (plain call, not yielded). */
  sendEvent(instanceId: string, name: string, data?: unknown): void {
    this.#host.sendEvent(instanceId, name, data);
  }

  /** Completes when every task completed (results in order); fails on the first failure. */
  all<const Ts extends readonly Task<unknown>[]>(tasks: Ts): Task<{ -readonly [K in keyof Ts]: TaskResult<Ts[K]> }> {
    return whenAll(tasks);
  }

  /** Completes with the task that settled first (the winner itself, not its result). */
  any<T extends Task<unknown>>(tasks: readonly T[]): Task<T> {
    return whenAny(tasks);
  }

  /** Calls an entity operation and waits for its result (or its error). */
  callEntity<O = any>(id: EntityRef, op: string, input?: unknown): Task<O> {
    return this.#host.callEntity(EntityId.from(id).toString(), normalizeName(op, 'operation'), input) as Task<O>;
  }

  /** One-way signal to an entity (plain call, not yielded). */
  signalEntity(id: EntityRef, op: string, input?: unknown): void {
    this.#host.signalEntity(EntityId.from(id).toString(), normalizeName(op, 'operation'), input);
  }

  /**
   * Locks several entities (yield it). Ids are deduplicated and sorted by '@name@key', the one
   * global order that makes locking deadlock-free.
   * @example const lock = yield ctx.lockEntities(from, to); try { ... } finally { lock.release(); }
   */
  lockEntities(...ids: EntityRef[]): Task<EntityLock> {
    const set = [...new Set(ids.map((id) => EntityId.from(id).toString()))].sort();
    if (set.length === 0) throw new DurableError('validation', 'lockEntities needs at least one entity');
    return this.#host.lockEntities(set);
  }

  /** Sets the status visible to clients (plain call). */
  setCustomStatus(value: unknown): void {
    this.#host.setCustomStatus(value);
  }

  /** Ends this run and starts a fresh one with `input` (plain call; return right after). */
  continueAsNew(input?: unknown): void {
    this.#host.continueAsNew(input);
  }

  #retry<T>(policy: RetryPolicy, start: (attempt: number) => Task<T>): Task<T> {
    return retrying(
      policy,
      start,
      (at) => this.#host.scheduleTimer(at),
      () => this.#host.now,
    );
  }
}
