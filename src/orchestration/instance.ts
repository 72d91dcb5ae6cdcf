/**
 * InstanceRuntime: one orchestration instance's runtime control (start, restart, terminate,
 * suspend, resume, rewind, continue-as-new) around a cached executor. Still pure: the worker
 * passes the persisted history, the inbound messages and the time.
 *
 * Invariants:
 * - `appended` is exactly what must be persisted, in order: accepted inbound messages, each
 *   followed by the events the code produced in response. Dropped messages are never persisted.
 * - When `reset` is true the old history is discarded and `appended` is the whole new history
 *   (new run after a terminal one, continue-as-new, rewind).
 * - The executor is kept between calls; if persisting a result fails, discard this runtime and
 *   rebuild it with fromHistory() from what is actually persisted.
 */
import { DurableError } from '../core/errors.js';
import { normalizeName } from '../core/names.js';
import type { OrchestratorAction } from './actions.js';
import type { OrchestrationLogger } from './context.js';
import type { OrchestrationDefinition } from './definition.js';
import { OrchestrationExecutor } from './executor.js';
import { uuidV5 } from './guid.js';
import type { HistoryEvent, HistoryEventOf } from './history.js';
import { rewindHistory } from './rewind.js';
import { hasRunEnded, summarizeHistory, type InstanceStatus } from './status.js';

/** The orchestrations this worker can run, by lower-case name. */
export interface OrchestrationRegistry {
  orchestrations: ReadonlyMap<string, OrchestrationDefinition>;
}

/** What one process() call asks the worker to do. */
export interface ProcessResult {
  /** Events to persist, in order (when `reset`, the complete new history). */
  appended: HistoryEvent[];
  reset: boolean;
  /** Side effects to carry out once `appended` is durable. */
  actions: OrchestratorAction[];
  /** Status after the batch; undefined while the instance has never started. */
  status: InstanceStatus | undefined;
  /** Inbound messages that had no effect (unknown instance, terminal run, duplicates, ...). */
  dropped: HistoryEvent[];
  continuedAsNew?: { input: unknown };
}

interface Batch extends ProcessResult {
  now: string;
  continues: number;
}

/** A run that continues-as-new this many times within one batch without waiting is failed. */
const MAX_CONTINUES_PER_BATCH = 1000;

/**
 * @example
 * const rt = InstanceRuntime.fromHistory({ orchestrations }, 'order-17', persisted);
 * const r = rt.process([startedOrCompletionOrRaised], new Date().toISOString());
 * await store.commit(r.reset ? { replace: r.appended } : { append: r.appended }); then send r.actions
 */
export class InstanceRuntime {
  #registry: OrchestrationRegistry;
  #options: { logger?: OrchestrationLogger };
  #history: HistoryEvent[] = [];
  #executor: OrchestrationExecutor | undefined;
  #lastUpdated: string | undefined;

  private constructor(
    registry: OrchestrationRegistry,
    readonly instanceId: string,
    options: { logger?: OrchestrationLogger },
  ) {
    this.#registry = registry;
    this.#options = options;
  }

  /** Rebuilds the runtime from persisted history (replaying the code if the run is live). */
  static fromHistory(registry: OrchestrationRegistry, instanceId: string, history: readonly HistoryEvent[], options: { logger?: OrchestrationLogger } = {}): InstanceRuntime {
    const rt = new InstanceRuntime(registry, instanceId, options);
    rt.#history = [...history];
    rt.#lastUpdated = history[history.length - 1]?.timestamp;
    const start = rt.#start();
    if (start && !hasRunEnded(history)) {
      rt.#executor = rt.#newExecutor(start.name);
      rt.#executor.apply(history, true);
      // Anything replay produced beyond history (e.g. a non-determinism failure) is emitted by
      // the next process() call; the executor keeps it until takeNew().
    }
    return rt;
  }

  /** The current run's history (what the worker should have persisted). */
  get history(): readonly HistoryEvent[] {
    return this.#history;
  }

  get status(): InstanceStatus | undefined {
    return summarizeHistory(this.#history, this.#lastUpdated);
  }

  /** Applies inbound messages in order; `nowIso` stamps messages without a timestamp and new runs. */
  process(messages: readonly HistoryEvent[], nowIso: string): ProcessResult {
    const base = this.#history.length;
    const b: Batch = { appended: [], reset: false, actions: [], status: undefined, dropped: [], now: nowIso, continues: 0 };
    if (this.#executor) this.#collect(b);
    for (const m of messages) this.#one(m.timestamp ? m : { ...m, timestamp: nowIso }, m, b);
    const appended = b.reset ? [...this.#history] : this.#history.slice(base);
    if (appended.length > 0) this.#lastUpdated = nowIso;
    return {
      appended,
      reset: b.reset,
      actions: b.actions,
      status: this.status,
      dropped: b.dropped,
      ...(b.continuedAsNew ? { continuedAsNew: b.continuedAsNew } : {}),
    };
  }

  #one(msg: HistoryEvent, original: HistoryEvent, b: Batch): void {
    if (msg.type === 'ExecutionStarted') return this.#onStart(msg, original, b);
    if (!this.#start()) return void b.dropped.push(original);
    if (msg.type === 'ExecutionRewound') return this.#onRewind(msg, original, b);
    const ex = this.#executor;
    if (ex?.state.status !== 'Running' || ex.apply([msg], false).ignored.length > 0) return void b.dropped.push(original);
    this.#history.push(msg);
    this.#collect(b);
    this.#continueIfAsked(b);
  }

  #onStart(msg: HistoryEventOf<'ExecutionStarted'>, original: HistoryEvent, b: Batch): void {
    const exists = this.#start() !== undefined;
    if (exists && (!hasRunEnded(this.#history) || msg.mode !== 'replaceTerminal')) return void b.dropped.push(original);
    const { mode: _mode, ...start } = msg;
    const runId = start.runId ?? uuidV5(`${this.instanceId}|${start.timestamp}|start`);
    if (exists) b.reset = true;
    this.#begin({ ...start, instanceId: this.instanceId, runId }, b);
  }

  #begin(start: HistoryEventOf<'ExecutionStarted'>, b: Batch): void {
    this.#history = [start];
    const ex = (this.#executor = this.#newExecutor(start.name));
    ex.apply([start], false);
    this.#collect(b);
    this.#continueIfAsked(b);
  }

  #continueIfAsked(b: Batch): void {
    const ex = this.#executor!;
    if (ex.state.status !== 'ContinuedAsNew') return;
    const old = this.#start()!;
    const input = ex.state.continueAsNewInput;
    if (++b.continues > MAX_CONTINUES_PER_BATCH) {
      const loop = new DurableError('validation', `orchestration '${old.name}' called continueAsNew ${MAX_CONTINUES_PER_BATCH} times without waiting on anything`);
      if (this.#history[this.#history.length - 1]?.type === 'ContinueAsNew') this.#history.pop();
      this.#history.push({
        type: 'ExecutionCompleted',
        eventId: -1,
        timestamp: b.now,
        status: 'Failed',
        failure: { message: loop.message, errorType: 'DurableError', code: 'validation' },
      });
      return;
    }
    const carried = ex.unconsumedEvents();
    b.reset = true;
    b.continuedAsNew = { input };
    this.#begin(
      {
        type: 'ExecutionStarted',
        eventId: -1,
        timestamp: b.now,
        name: old.name,
        instanceId: this.instanceId,
        input,
        runId: uuidV5(`${this.instanceId}|${old.runId ?? ''}|continued`),
        ...(old.parent ? { parent: old.parent } : {}),
        ...(old.trace ? { trace: old.trace } : {}),
      },
      b,
    );
    for (const e of carried) this.#one(e, e, b);
  }

  #onRewind(msg: HistoryEventOf<'ExecutionRewound'>, original: HistoryEvent, b: Batch): void {
    const rewound = rewindHistory(this.#history, msg);
    if (!rewound) return void b.dropped.push(original);
    b.reset = true;
    this.#history = rewound;
    const ex = (this.#executor = this.#newExecutor(this.#start()!.name));
    ex.apply(rewound, true);
    this.#collect(b);
    this.#continueIfAsked(b);
  }

  #collect(b: Batch): void {
    const { events, actions } = this.#executor!.takeNew();
    this.#history.push(...events);
    b.actions.push(...actions);
  }

  #start(): HistoryEventOf<'ExecutionStarted'> | undefined {
    const first = this.#history[0];
    return first?.type === 'ExecutionStarted' ? first : undefined;
  }

  #newExecutor(name: string): OrchestrationExecutor {
    let key: string | undefined;
    try {
      key = normalizeName(name, 'orchestration');
    } catch {
      key = undefined;
    }
    const def = (key && this.#registry.orchestrations.get(key)) || missingDefinition(name, [...this.#registry.orchestrations.keys()]);
    return new OrchestrationExecutor(def, this.instanceId, this.#options);
  }
}

/** Stands in for an unregistered orchestration: the run fails with a message saying so. */
function missingDefinition(name: string, known: string[]): OrchestrationDefinition {
  return {
    kind: 'orchestration',
    name: String(name),
    // eslint-disable-next-line require-yield
    fn: function* () {
      throw new DurableError('validation', `unknown orchestration '${name}': this worker registers ${known.length ? known.map((k) => `'${k}'`).join(', ') : 'no orchestrations'}`);
    },
  };
}
