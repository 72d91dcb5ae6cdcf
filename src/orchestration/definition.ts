/**
 * orchestration() and activity(): definitions are plain frozen data `{ kind, name, fn }`; the
 * executor (orchestrations) and the worker (activities) are what run them.
 * Invariant: names are stored lower-case (API.md: names are case-insensitive).
 */
import { normalizeName } from '../core/names.js';
import type { OrchestrationContext } from './context.js';

/**
 * An orchestration body: a generator that yields tasks and returns the output. Must be
 * deterministic: no I/O, clocks or randomness except through `ctx`.
 */
export type OrchestrationFunction<I = any, O = any> = (ctx: OrchestrationContext, input: I) => Generator<unknown, O, any>;

export interface OrchestrationDefinition<I = any, O = any> {
  readonly kind: 'orchestration';
  readonly name: string;
  readonly fn: OrchestrationFunction<I, O>;
}

/** What an activity may know about its invocation (optional second argument). */
export interface ActivityContext {
  readonly instanceId: string;
  readonly taskId: number;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
}

export type ActivityFunction<I = any, O = any> = (input: I, ctx: ActivityContext) => O | Promise<O>;

export interface ActivityDefinition<I = any, O = any> {
  readonly kind: 'activity';
  readonly name: string;
  readonly fn: ActivityFunction<I, O>;
}

/**
 * Defines an orchestration.
 * @example
 * export const hello = orchestration('helloSequence', function* (ctx, input: unknown) {
 *   const out: string[] = [];
 *   for (const city of ['Tokyo', 'Seattle']) out.push(yield ctx.callActivity('sayHello', city));
 *   return out;
 * });
 */
export function orchestration<I = any, O = any>(name: string, fn: OrchestrationFunction<I, O>): OrchestrationDefinition<I, O> {
  if (typeof fn !== 'function') throw new TypeError(`orchestration '${name}' needs a generator function`);
  return Object.freeze({ kind: 'orchestration' as const, name: normalizeName(name, 'orchestration'), fn });
}

/**
 * Defines an activity: ordinary (async) code, run at least once, its result applied exactly once.
 * @example export const sayHello = activity('sayHello', async (name: string) => `Hello ${name}!`);
 */
export function activity<I = any, O = any>(name: string, fn: ActivityFunction<I, O>): ActivityDefinition<I, O> {
  if (typeof fn !== 'function') throw new TypeError(`activity '${name}' needs a function`);
  return Object.freeze({ kind: 'activity' as const, name: normalizeName(name, 'activity'), fn });
}
