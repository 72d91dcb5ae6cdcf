/**
 * Tasks: what orchestration code yields. A task settles at most once (completed or failed) and
 * then tells its listeners, synchronously and in registration order.
 * Invariant: tasks settle only while the executor applies an event, never on their own, so the
 * order of settlements (and of anything scheduled from a listener, e.g. a retry) is a function of
 * the history alone.
 */
import { DurableError } from '../core/errors.js';

type Listener = () => void;

/**
 * A durable step's eventual result. Yield it (`const x = yield task`) or delegate to it for a
 * typed result (`const x = yield* task`).
 */
export class Task<T = unknown> {
  #state: 'pending' | 'completed' | 'failed' = 'pending';
  #result: T | undefined;
  #error: Error | undefined;
  #listeners: Listener[] = [];

  /** True once the task completed or failed. */
  get isCompleted(): boolean {
    return this.#state !== 'pending';
  }
  /** True if the task failed (its error is thrown into the generator). */
  get isFaulted(): boolean {
    return this.#state === 'failed';
  }
  /** The result, once completed. */
  get result(): T | undefined {
    return this.#result;
  }
  /** The error, once failed. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** @internal */
  resolve(value: T): void {
    if (this.#state !== 'pending') return;
    this.#state = 'completed';
    this.#result = value;
    this.#notify();
  }

  /** @internal */
  reject(error: Error): void {
    if (this.#state !== 'pending') return;
    this.#state = 'failed';
    this.#error = error;
    this.#notify();
  }

  /** @internal Runs `fn` when the task settles (at once if it already has). */
  onSettled(fn: Listener): void {
    if (this.#state !== 'pending') fn();
    else this.#listeners.push(fn);
  }

  #notify(): void {
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const fn of listeners) fn();
  }

  /** @example const greeting = yield* ctx.callActivity<string>('sayHello', 'Tokyo'); */
  *[Symbol.iterator](): Generator<Task<T>, T, unknown> {
    return (yield this) as T;
  }
}

/** A durable timer; `cancel()` makes its later TimerFired a no-op (the task then never settles). */
export class TimerTask extends Task<void> {
  #cancelled = false;
  constructor(
    readonly timerId: number,
    readonly fireAt: Date,
  ) {
    super();
  }
  get isCancelled(): boolean {
    return this.#cancelled;
  }
  cancel(): void {
    if (!this.isCompleted) this.#cancelled = true;
  }
}

/** Result of a task: `TaskResult<Task<number>>` is number. */
export type TaskResult<X> = X extends Task<infer R> ? R : never;

/** Completes with every result (in order) once all complete; fails as soon as one fails. */
export function whenAll<const Ts extends readonly Task<unknown>[]>(tasks: Ts): Task<{ -readonly [K in keyof Ts]: TaskResult<Ts[K]> }> {
  type Out = { -readonly [K in keyof Ts]: TaskResult<Ts[K]> };
  const all = new Task<Out>();
  const list = [...tasks];
  assertTasks(list, 'all');
  let pending = list.length;
  if (pending === 0) all.resolve([] as unknown as Out);
  for (const t of list) {
    t.onSettled(() => {
      if (t.isFaulted) return all.reject(t.error!);
      if (--pending === 0) all.resolve(list.map((x) => x.result) as unknown as Out);
    });
  }
  return all;
}

/** Completes with the first task that settles (completed or failed); it does not throw. */
export function whenAny<T extends Task<unknown>>(tasks: readonly T[]): Task<T> {
  const any = new Task<T>();
  const list = [...tasks];
  assertTasks(list, 'any');
  if (list.length === 0) throw new DurableError('validation', 'ctx.any() needs at least one task');
  for (const t of list) t.onSettled(() => any.resolve(t));
  return any;
}

function assertTasks(list: unknown[], what: string): void {
  for (const t of list) {
    if (!(t instanceof Task)) throw new DurableError('validation', `ctx.${what}() takes tasks (from ctx.callActivity, ctx.createTimer, ...)`);
  }
}
