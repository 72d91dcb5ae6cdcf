/**
 * TestHost: the real worker and the real client on the in-memory fabric and a virtual clock. The
 * engine is not imitated: `Worker.start({ fabric })` runs the same partition pipeline, executors,
 * catalog validation, entity locks, retries and timers as in production; only the fabric (the store
 * and the clock, src/store/fabric.ts) is swapped.
 *
 * Invariants:
 * - No network: the fabric is a MemoryStore; nothing here opens a socket.
 * - Time moves only when the test moves it (`advanceTime`) or while a waiting call skips it
 *   (`waitForCompletion`, `callEntity`): then every due timer fires at its own time, in due order,
 *   and the host runs until idle before time moves on.
 * - `restart()` drops every cached actor and live generator (a new worker on the same store), so
 *   the next step of every instance replays from its stored history; committed state stays.
 * - After `stop()` every call fails with DurableError `validation` naming the stopped host.
 */
import { pino, type Logger } from 'pino';
import { systemClock } from '../core/clock.js';
import { DurableError } from '../core/errors.js';
import { normalizeName } from '../core/names.js';
import type { EntityDefinition } from '../entity/definition.js';
import type { ActivityDefinition, ActivityFunction, OrchestrationDefinition } from '../orchestration/definition.js';
import { DurableClient } from '../client/client.js';
import { Worker } from '../worker/worker.js';
import { MemoryStore } from './memory-fabric.js';
import { VirtualClock } from './virtual-clock.js';

export interface TestHostOptions {
  entities?: EntityDefinition<any>[];
  orchestrations?: OrchestrationDefinition[];
  activities?: ActivityDefinition[];
  /** Start of the virtual clock (default: now). */
  startTime?: Date;
  /** Partitions of the in-memory hub (default 1: one batch loop, the most deterministic order). */
  partitions?: number;
  /** Worker options passed through (retention, cacheSize, maxBatch...). */
  worker?: { cacheSize?: number; maxBatch?: number; retention?: { entityVersions?: number; finishedInstancesMs?: number } };
  /** Logs of the engine (default: silent; LOG_LEVEL is honoured). */
  logger?: Logger;
}

/** Real-time bound of one idle(): work that never settles (an activity awaiting a real network call) is reported. */
const IDLE_TIMEOUT_MS = 30_000;
/** Consecutive quiet checks, a few event-loop turns apart, that make the host idle. */
const QUIET_CHECKS = 3;
/** Event-loop turns between two checks; after many, a real millisecond (a mocked activity may use real timers). */
const TURNS_BEFORE_REAL_WAIT = 50;
/** Timers a single skipping wait may fire before it says the instance waits on a loop of timers. */
const MAX_SKIPS = 1_000_000;

const turn = () => new Promise<void>((r) => setImmediate(r));
const realMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * @example
 * const host = await TestHost.start({ orchestrations: [monitor], activities: [checkRepo] });
 * host.mockActivity('checkRepo', async () => 4);
 * const id = await host.client.startNew('monitor', { input: 'octo/repo' });
 * const status = await host.client.waitForCompletion(id, { timeoutMs: 30 * 86_400_000 });
 * await host.stop();
 */
export class TestHost {
  readonly #clock: VirtualClock;
  readonly #store: MemoryStore;
  readonly #options: TestHostOptions;
  /** Shared with every worker this host starts: restart keeps the mocks. */
  readonly #mocks: Map<string, ActivityFunction>;
  readonly #activityNames: Set<string>;
  readonly #logger: Logger;
  #worker: Worker;
  #client: DurableClient;
  #clientView: DurableClient;
  #stopped = false;
  #generation = 0;
  /** One time-moving step at a time (advanceTime and skipping waits share the clock). */
  #timeLock: Promise<void> = Promise.resolve();

  private constructor(
    clock: VirtualClock,
    store: MemoryStore,
    options: TestHostOptions,
    logger: Logger,
    mocks: Map<string, ActivityFunction>,
    worker: Worker,
    client: DurableClient,
  ) {
    this.#mocks = mocks;
    this.#clock = clock;
    this.#store = store;
    this.#options = options;
    this.#logger = logger;
    this.#worker = worker;
    this.#client = client;
    this.#activityNames = new Set((options.activities ?? []).map((a) => a.name));
    this.#clientView = this.#makeClientView();
  }

  static async start(options: TestHostOptions = {}): Promise<TestHost> {
    const startMs = options.startTime ? options.startTime.getTime() : Date.now();
    if (!Number.isFinite(startMs)) throw new DurableError('validation', `startTime must be a valid Date, got ${String(options.startTime)}`);
    const clock = new VirtualClock(startMs);
    const store = new MemoryStore({ clock, pullClock: systemClock });
    const logger = options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'silent' });
    const mocks = new Map<string, ActivityFunction>();
    const worker = await TestHost.#startWorker(store, options, mocks, logger, 1);
    const client = await DurableClient.connect({ fabric: store.connect(), hub: HUB, logger });
    const host = new TestHost(clock, store, options, logger, mocks, worker, client);
    await host.idle();
    return host;
  }

  static async #startWorker(store: MemoryStore, options: TestHostOptions, mocks: Map<string, ActivityFunction>, logger: Logger, generation: number): Promise<Worker> {
    // Each activity runs its mock when one is set, looked up at every execution.
    const activities = (options.activities ?? []).map(
      (def): ActivityDefinition =>
        Object.freeze({
          kind: 'activity' as const,
          name: def.name,
          fn: (input: unknown, ctx: Parameters<ActivityFunction>[1]) => (mocks.get(def.name) ?? def.fn)(input, ctx),
        }),
    );
    return Worker.start({
      fabric: store.connect(),
      hub: HUB,
      partitions: options.partitions ?? 1,
      entities: options.entities ?? [],
      orchestrations: options.orchestrations ?? [],
      activities,
      logger,
      workerId: `test-host-${generation}`,
      ...(options.worker?.cacheSize !== undefined ? { cacheSize: options.worker.cacheSize } : {}),
      ...(options.worker?.maxBatch !== undefined ? { maxBatch: options.worker.maxBatch } : {}),
      ...(options.worker?.retention ? { retention: options.worker.retention } : {}),
    });
  }

  /**
   * Every DurableClient method, in memory. `waitForCompletion` and `callEntity` skip time: while
   * they wait and the host is idle, the clock jumps to the next due timer (their timeouts are
   * virtual time).
   */
  get client(): DurableClient {
    return this.#clientView;
  }

  /** The virtual clock's time. */
  now(): Date {
    this.#open('now');
    return new Date(this.#clock.now());
  }

  /** Runs `fn` instead of the activity `name` (registered in this host) from now on, across restarts. */
  mockActivity<I = any, O = any>(name: string, fn: ActivityFunction<I, O>): void {
    this.#open('mockActivity');
    if (typeof fn !== 'function') throw new DurableError('validation', `mockActivity('${name}') needs a function`);
    // Names are case-insensitive, as everywhere in the engine (callActivity('SayHello') runs 'sayhello').
    const normalized = typeof name === 'string' && name.trim() !== '' ? normalizeName(name, 'activity') : '';
    if (!this.#activityNames.has(normalized)) {
      const known = [...this.#activityNames].join(', ') || 'none';
      throw new DurableError('validation', `mockActivity('${name}'): no activity of that name is registered in this host (registered: ${known})`);
    }
    this.#mocks.set(normalized, fn as ActivityFunction);
  }

  /**
   * Moves the virtual clock forward by `ms`: each due timer (durable timers, retry back-offs,
   * delayed signals, schedules) fires at its own time, in order, and the host runs until idle
   * after each; resolves idle at now + ms.
   */
  async advanceTime(ms: number): Promise<void> {
    this.#open('advanceTime');
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new DurableError('validation', `advanceTime(${String(ms)}): time only moves forward; give a finite number of ms >= 0`);
    }
    await this.#withTime(async () => {
      const target = this.#clock.now() + ms;
      await this.idle();
      for (let next = this.#clock.nextDueAt(); next !== undefined && next <= target; next = this.#clock.nextDueAt()) {
        await this.#clock.advanceTo(Math.max(next, this.#clock.now()));
        await this.idle();
      }
      await this.#clock.advanceTo(target);
      await this.idle();
    });
  }

  /**
   * Resolves once nothing is pending but future timers: every message processed, every effect
   * published, every activity run and reported. DurableError `timeout` if the host is still busy
   * after 30 s of real time (an activity awaiting something that never comes).
   */
  async idle(): Promise<void> {
    this.#open('idle');
    const deadline = Date.now() + IDLE_TIMEOUT_MS;
    let quiet = 0;
    let turns = 0;
    while (quiet < QUIET_CHECKS) {
      if (++turns > TURNS_BEFORE_REAL_WAIT) await realMs(1);
      else await turn();
      if (this.#stopped) return;
      if (this.#store.isQuiet() && !this.#worker.isBusy()) quiet++;
      else quiet = 0;
      if (Date.now() > deadline) throw new DurableError('timeout', `the test host did not become idle within ${IDLE_TIMEOUT_MS} ms of real time (an activity still running?)`);
    }
  }

  /**
   * As a crash would: every cached actor and live generator is dropped (a new worker on the same
   * store), so the next step of each instance replays from its stored history.
   */
  async restart(): Promise<void> {
    this.#open('restart');
    await this.idle();
    await this.#worker.stop();
    this.#worker = await TestHost.#startWorker(this.#store, this.#options, this.#mocks, this.#logger, ++this.#generation + 1);
    await this.idle();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#worker.stop().catch(() => undefined);
    await this.#client.close().catch(() => undefined);
    this.#store.close();
  }

  #open(what: string): void {
    if (this.#stopped) throw new DurableError('validation', `${what}: this TestHost is stopped`);
  }

  #withTime<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#timeLock.then(step);
    this.#timeLock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Runs a waiting call while skipping time: whenever the host is idle and the call still waits,
   * the clock jumps to the next due timer (the call's own timeout is one, so it always ends).
   */
  async #skipping<T>(what: string, call: () => Promise<T>): Promise<T> {
    let settled = false;
    const p = call().finally(() => {
      settled = true;
    });
    p.catch(() => undefined);
    await this.#withTime(async () => {
      for (let skips = 0; !settled && !this.#stopped; skips++) {
        await this.idle();
        if (settled) break;
        const next = this.#clock.nextDueAt();
        if (next === undefined) {
          throw new DurableError('timeout', `client.${what}: the host is idle and no timer is pending, so nothing will ever answer (an external event never raised?)`);
        }
        if (skips >= MAX_SKIPS) throw new DurableError('timeout', `client.${what}: still waiting after ${MAX_SKIPS} timers fired (a loop of timers?)`);
        await this.#clock.advanceTo(Math.max(next, this.#clock.now()));
      }
    });
    return p;
  }

  #makeClientView(): DurableClient {
    const skipping = new Set(['waitForCompletion', 'callEntity']);
    return new Proxy(this.#client, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (this.#stopped) throw new DurableError('validation', `client.${String(prop)}: this TestHost is stopped`);
          const current = this.#client;
          const run = () => (Reflect.get(current, prop, current) as (...a: unknown[]) => unknown).apply(current, args);
          if (skipping.has(String(prop))) return this.#skipping(String(prop), run as () => Promise<unknown>);
          return run();
        };
      },
    });
  }
}

/** The in-memory hub's name (one store per host, so any name would do). */
const HUB = 'test';
