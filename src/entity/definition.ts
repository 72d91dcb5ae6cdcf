/**
 * entity(): the definition of an entity type. Operations are plain functions over an immer draft,
 * or `{ input: zodSchema, handler }` when the input must be validated.
 * A state is any JSON value: an object or array is changed through the draft; a number, string,
 * boolean or null (nothing to draft) is replaced with `ctx.setState(value)`.
 * Invariant: a definition is immutable data; the executor is what runs it.
 */
import type { Draft } from 'immer';
import type { ZodType } from 'zod';
import type { EntityId } from '../core/entity-id.js';
import { DurableError } from '../core/errors.js';
import { normalizeName } from '../core/names.js';

/** What an operation handler may do besides changing its state. */
export interface EntityContext<S = any> {
  readonly id: EntityId;
  /** The operation being run. */
  readonly operation: string;
  /** The engine's clock when this operation's batch ran (a virtual clock under the test kit). */
  readonly currentUtcDateTime: Date;
  /**
   * Sends a signal after this operation commits (optionally delayed). With `idempotencyKey`, its
   * dedupe id is derived from that key instead of from this message (the target applies one
   * signal per key, whoever sends it).
   */
  signalEntity(id: EntityId | string, op: string, input?: unknown, options?: { delayMs?: number; at?: Date; idempotencyKey?: string }): void;
  /** Starts an orchestration after this operation commits; returns its instance id. */
  startNew(orchestrationName: string, options?: { input?: unknown; instanceId?: string }): string;
  /** Deletes the entity's state once this operation commits (the entity then reads as not existing). */
  deleteState(): void;
  /**
   * Replaces the whole state once this operation commits (the way to change a number, string,
   * boolean or null state; for an object it discards the draft's changes). The last call wins.
   * @example add: (s, n: number, ctx) => ctx.setState(s + n)
   */
  setState(value: S): void;
}

/**
 * What a handler receives: an immer draft for an object or array state, the value itself for a
 * primitive one (immer's Draft<number> is number). The distribution over unions is deliberate:
 * a `number | null` state gives `number | null`.
 */
export type EntityStateArg<S> = Draft<S>;

export type OperationHandler<S, I = any, R = unknown> = (state: EntityStateArg<S>, input: I, ctx: EntityContext<S>) => R | Promise<R>;

export type OperationDefinition<S> = OperationHandler<S> | { input?: ZodType; handler: OperationHandler<S> };

export interface EntityOptions<S> {
  /** The initial state of a new entity. */
  state: () => S;
  operations: Record<string, OperationDefinition<S>>;
}

export interface NormalizedOperation<S> {
  name: string;
  input?: ZodType;
  handler: OperationHandler<S>;
}

export interface EntityDefinition<S = any> {
  readonly kind: 'entity';
  readonly name: string;
  readonly initialState: () => S;
  /** Operations by lower-case name. */
  readonly operations: ReadonlyMap<string, NormalizedOperation<S>>;
}

/**
 * Defines an entity type.
 * @example
 * export const counter = entity('counter', {
 *   state: () => ({ value: 0 }),
 *   operations: { add: { input: z.number(), handler: (s, n: number) => { s.value += n; } }, get: (s) => s.value },
 * });
 */
export function entity<S>(name: string, options: EntityOptions<S>): EntityDefinition<S> {
  const operations = new Map<string, NormalizedOperation<S>>();
  for (const [opName, def] of Object.entries(options.operations)) {
    const key = normalizeName(opName, 'operation');
    if (operations.has(key)) throw new DurableError('validation', `entity '${name}' defines operation '${key}' twice`);
    if (typeof def === 'function') operations.set(key, { name: key, handler: def });
    else if (def && typeof def.handler === 'function') operations.set(key, { name: key, handler: def.handler, ...(def.input ? { input: def.input } : {}) });
    else throw new DurableError('validation', `entity '${name}' operation '${opName}' must be a function or { input?, handler }`);
  }
  if (typeof options.state !== 'function') throw new DurableError('validation', `entity '${name}' needs state: () => initialState`);
  return Object.freeze({ kind: 'entity' as const, name: normalizeName(name, 'entity'), initialState: options.state, operations });
}
