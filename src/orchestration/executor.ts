/**
 * The pure orchestration executor: history events in, new history events and actions out.
 * No I/O, no clocks, no randomness: the clock is the newest timestamp seen, ids are a counter.
 *
 * Invariants:
 * - The generator is created once (at ExecutionStarted) and kept alive across apply() calls, so
 *   new events continue it rather than replaying from scratch.
 * - While replaying, every step the code takes must match the history's event with the same
 *   sequence id; the first mismatch fails the run with `nondeterminism` and stops the executor.
 * - An inbound event is accepted at most once: completions for unknown, settled or cancelled ids
 *   are ignored (returned in `ignored`), so an activity that ran twice is applied once.
 * - Locks requested and not released are released when the run ends, however it ends.
 */
import { toErrorInfo, type ErrorInfo } from '../core/errors.js';
import { parentNotification, type OrchestratorAction } from './actions.js';
import { OrchestrationContext, type ContextHost, type LogLevel, type OrchestrationLogger } from './context.js';
import type { OrchestrationDefinition } from './definition.js';
import { nondeterminismError, nondeterminismInfo, taskFailure, terminatedInfo } from './failures.js';
import { isSequenced, sameStep, type HistoryEvent, type HistoryEventOf, type ParentRef, type SequencedEvent } from './history.js';
import { Session } from './session.js';
import { Task } from './tasks.js';

export type ExecutionStatus = 'Running' | 'Completed' | 'Failed' | 'ContinuedAsNew' | 'Terminated';

/** The run as the code and the history have left it. */
export interface ExecutorState {
  status: ExecutionStatus;
  /** Return value; for a terminated run, the reason. */
  output?: unknown;
  failure?: ErrorInfo;
  customStatus?: unknown;
  continueAsNewInput?: unknown;
  started: boolean;
  suspended: boolean;
}

export interface ExecutorOptions {
  logger?: OrchestrationLogger;
}

type Outcome =
  | { status: 'Completed'; output: unknown }
  | { status: 'Failed'; failure: ErrorInfo }
  | { status: 'ContinuedAsNew'; input: unknown }
  | { status: 'Terminated'; reason: unknown };

/**
 * Runs one orchestration run.
 * @example
 * const ex = new OrchestrationExecutor(hello, 'order-1');
 * ex.apply(history, true); ex.apply([taskCompleted], false);
 * const { events, actions } = ex.takeNew(); // persist events, then carry out actions
 */
export class OrchestrationExecutor {
  readonly instanceId: string;
  #def: OrchestrationDefinition;
  #session: Session;
  #ctx: OrchestrationContext;
  #state: ExecutorState = { status: 'Running', started: false, suspended: false };
  #gen: Iterator<unknown, unknown, unknown> | undefined;
  #current: Task<unknown> | undefined;
  #continueWith: { input: unknown } | undefined;
  #parked: HistoryEvent[] = [];
  #halted = false;
  #parent: ParentRef | undefined;

  constructor(def: OrchestrationDefinition, instanceId: string, options: ExecutorOptions = {}) {
    this.instanceId = instanceId;
    this.#def = def;
    const host: ContextHost = (this.#session = new Session(instanceId, {
      continueAsNew: (input) => {
        this.#continueWith = { input };
      },
      setCustomStatus: (value) => {
        this.#state.customStatus = value;
      },
      log: (level: LogLevel, message, fields) => options.logger?.[level]({ instanceId, orchestration: def.name, ...fields }, message),
    }));
    this.#ctx = new OrchestrationContext(host);
  }

  /** The run as it stands; `status` is 'Running' until the code returns, throws or is stopped. */
  get state(): Readonly<ExecutorState> {
    return this.#state;
  }
  get runId(): string | undefined {
    return this.#session.runId;
  }
  get parent(): ParentRef | undefined {
    return this.#parent;
  }

  /**
   * Feeds events: the persisted history first with `replaying = true`, then new inbound events
   * with `replaying = false`. Returns the events that had no effect (do not persist those).
   */
  apply(events: readonly HistoryEvent[], replaying: boolean): { ignored: HistoryEvent[] } {
    const ignored: HistoryEvent[] = [];
    for (const e of events) {
      this.#session.replaying = replaying;
      const before = this.#session.now;
      const at = Date.parse(e.timestamp);
      if (at > before.getTime()) this.#session.now = new Date(at);
      if (!this.#handle(e, replaying)) {
        this.#session.now = before; // an ignored event is not persisted, so it must not move the clock
        ignored.push(e);
      }
    }
    this.#session.compact();
    return { ignored };
  }

  /** The events (to append to history, in order) and actions produced since the last call. */
  takeNew(): { events: HistoryEvent[]; actions: OrchestratorAction[] } {
    return this.#session.take();
  }

  /** Raised events no waiter consumed yet (carried over by continueAsNew). */
  unconsumedEvents(): HistoryEventOf<'EventRaised'>[] {
    const parked = this.#parked.filter((e): e is HistoryEventOf<'EventRaised'> => e.type === 'EventRaised');
    return [...this.#session.bufferedEvents(), ...parked];
  }

  #handle(e: HistoryEvent, replaying: boolean): boolean {
    if (this.#halted) return false;
    const running = this.#state.status === 'Running';
    if (isSequenced(e)) return replaying ? this.#confirm(e) : false;
    if (e.type === 'ExecutionStarted') {
      if (this.#state.started) return false;
      this.#state.started = true;
      this.#session.runId = e.runId;
      this.#parent = e.parent;
      this.#start(e.input);
      return true;
    }
    if (!this.#state.started) return false;
    switch (e.type) {
      case 'ExecutionCompleted':
      case 'ContinueAsNew':
        if (!replaying) return false;
        this.#adopt(e);
        return true;
      case 'CustomStatusSet':
        if (!replaying) return false;
        this.#state.customStatus = e.value;
        return true;
      case 'ExecutionRewound':
        return true;
      case 'ExecutionTerminated':
        if (!running) return false;
        this.#end({ status: 'Terminated', reason: e.reason });
        return true;
      case 'ExecutionSuspended':
        if (!running || this.#state.suspended) return false;
        this.#state.suspended = true;
        return true;
      case 'ExecutionResumed': {
        if (!running || !this.#state.suspended) return false;
        this.#state.suspended = false;
        const parked = this.#parked;
        this.#parked = [];
        for (const p of parked) this.#deliver(p);
        return true;
      }
      default:
        if (!running) return false;
        if (this.#state.suspended) {
          this.#parked.push(e);
          return true;
        }
        return this.#deliver(e);
    }
  }

  #deliver(e: HistoryEvent): boolean {
    const s = this.#session;
    let ok: boolean;
    switch (e.type) {
      case 'EventRaised':
        ok = s.raise(e);
        break;
      case 'TaskCompleted':
        ok = s.settle('activity', e.taskId, e.runId, (t) => t.resolve(e.result));
        break;
      case 'TaskFailed':
        ok = s.settle('activity', e.taskId, e.runId, (t) => t.reject(taskFailure(e.failure)));
        break;
      case 'SubOrchestrationCompleted':
        ok = s.settle('sub', e.taskId, e.runId, (t) => t.resolve(e.result));
        break;
      case 'SubOrchestrationFailed':
        ok = s.settle('sub', e.taskId, e.runId, (t) => t.reject(taskFailure(e.failure)));
        break;
      case 'TimerFired':
        ok = s.settle('timer', e.timerId, e.runId, (t) => t.resolve(undefined));
        break;
      case 'EntityResponded':
        ok = s.settle('call', e.requestId, e.runId, (t) => (e.failure ? t.reject(taskFailure(e.failure)) : t.resolve(e.result)));
        break;
      case 'EntityLockGranted':
        ok = s.grant(e.lockId, e.runId);
        break;
      default:
        ok = false;
    }
    if (ok) this.#resume();
    return ok;
  }

  #confirm(e: SequencedEvent): boolean {
    const mine = this.#session.pendingStep(e.eventId);
    if (mine && sameStep(mine, e)) {
      this.#session.confirm(e.eventId);
      return true;
    }
    const actual = mine ?? (this.#state.status === 'Running' && this.#gen ? 'waiting' : 'finished');
    const err = nondeterminismError(this.#def.name, this.instanceId, e, actual);
    this.#session.discardPending();
    this.#end({ status: 'Failed', failure: nondeterminismInfo(err) });
    this.#halted = true;
    return true;
  }

  /** A terminal event from history is authoritative: the run ended that way. */
  #adopt(e: HistoryEventOf<'ExecutionCompleted'> | HistoryEventOf<'ContinueAsNew'>): void {
    this.#session.confirmTerminal(e.type);
    this.#gen = undefined;
    this.#current = undefined;
    const { started, suspended, customStatus } = this.#state;
    this.#state =
      e.type === 'ContinueAsNew'
        ? { status: 'ContinuedAsNew', continueAsNewInput: e.input, started, suspended, customStatus }
        : { status: e.status, started, suspended, customStatus, ...(e.status === 'Failed' ? { failure: e.failure! } : { output: e.output }) };
  }

  #start(input: unknown): void {
    let result: unknown;
    try {
      result = this.#def.fn(this.#ctx, input);
    } catch (err) {
      return this.#end({ status: 'Failed', failure: toErrorInfo(err) });
    }
    const it = result as Iterator<unknown, unknown, unknown> | undefined;
    if (it && typeof it.next === 'function' && typeof it.throw === 'function') {
      this.#gen = it;
      this.#step({ value: undefined });
      this.#resume();
    } else {
      this.#finishWith(result);
    }
  }

  /** Continues the generator as long as the task it waits on has settled. */
  #resume(): void {
    while (this.#gen && this.#state.status === 'Running' && this.#current?.isCompleted) {
      const t = this.#current;
      this.#current = undefined;
      this.#step(t.isFaulted ? { error: t.error } : { value: t.result });
    }
  }

  #step(input: { value: unknown } | { error: unknown }): void {
    const gen = this.#gen!;
    let next = input;
    for (;;) {
      let r: IteratorResult<unknown, unknown>;
      try {
        r = 'error' in next ? gen.throw!(next.error) : gen.next(next.value);
      } catch (err) {
        return this.#end({ status: 'Failed', failure: toErrorInfo(err) });
      }
      if (r.done || this.#continueWith) return this.#finishWith(r.value);
      if (r.value instanceof Task) {
        this.#current = r.value;
        return;
      }
      next = { error: new TypeError(`orchestration '${this.#def.name}' yielded ${typeof r.value}: yield tasks (ctx.callActivity(...), ctx.all([...]), ...)`) };
    }
  }

  #finishWith(output: unknown): void {
    if (this.#continueWith) this.#end({ status: 'ContinuedAsNew', input: this.#continueWith.input });
    else this.#end({ status: 'Completed', output });
  }

  /** Every way a run ends: release locks, record the outcome, tell the parent. */
  #end(outcome: Outcome): void {
    this.#gen = undefined;
    this.#current = undefined;
    this.#session.releaseAll();
    const { started, suspended, customStatus } = this.#state;
    const base = { started, suspended, customStatus };
    const s = this.#session;
    const parent = this.#parent;
    switch (outcome.status) {
      case 'Completed':
        this.#state = { ...base, status: 'Completed', output: outcome.output };
        s.produce(
          { type: 'ExecutionCompleted', eventId: -1, timestamp: s.stamp(), status: 'Completed', output: outcome.output },
          parent ? [parentNotification(parent, s.stamp(), { result: outcome.output })] : [],
        );
        break;
      case 'Failed':
        this.#state = { ...base, status: 'Failed', failure: outcome.failure };
        s.produce(
          { type: 'ExecutionCompleted', eventId: -1, timestamp: s.stamp(), status: 'Failed', failure: outcome.failure },
          parent ? [parentNotification(parent, s.stamp(), { failure: outcome.failure })] : [],
        );
        break;
      case 'ContinuedAsNew':
        this.#state = { ...base, status: 'ContinuedAsNew', continueAsNewInput: outcome.input };
        s.produce({ type: 'ContinueAsNew', eventId: -1, timestamp: s.stamp(), input: outcome.input }, []);
        break;
      case 'Terminated':
        this.#state = { ...base, status: 'Terminated', output: outcome.reason };
        if (parent && !s.replaying) s.produce(undefined, [parentNotification(parent, s.stamp(), { failure: terminatedInfo(outcome.reason) })]);
        break;
      default: {
        const never: never = outcome;
        void never;
      }
    }
  }
}
