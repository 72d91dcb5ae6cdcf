/**
 * Local activity dispatch: an activity scheduled by an orchestration of a partition this worker
 * holds runs here, in-process, and its result goes straight into the partition's next batch,
 * instead of travelling through the activity work queue and the instance's inbox (three JetStream
 * round trips per step become one: the append that records the result). The idea is Netherite's:
 * a partition executes activities locally while it has room and hands the rest to others.
 *
 * Invariant (what makes it safe): an effect recorded in a committed event is either durable or
 * *owed*. A work item run locally is owed from the moment its batch commits until the batch that
 * records its result commits; the partition's checkpoint lists owed effects by event reference
 * (the event's subject, its first part's sequence, the effect's index in the record), so whoever
 * recovers the partition after a crash publishes them as ordinary work items (at-least-once, as
 * every activity is). The list is bounded by the local backlog, so the checkpoint stays small.
 */
import type { ResolvedEffect } from './actor-host.js';

/** Effects of one committed event that were not published because they run locally. */
export interface OwedEffects {
  /** The event's subject. */
  s: string;
  /** Stream sequence of the event's first part. */
  q: number;
  /** Indexes of the owed effects in the event's `fx` (parts concatenated in order). */
  x: number[];
}

/** Where an owed effect is recorded: enough for recovery to find and publish it. */
export interface OwedRef {
  s: string;
  q: number;
  x: number;
}

/**
 * A place reserved for one local run. Either `run` (after its batch is durable: the result comes
 * back through `onResult`) or, before that, `startNow` (eager: the host waits a moment for the
 * result and records it in the same event as the scheduling, then calls `recorded`); `release`
 * when the batch did not become durable.
 */
export interface LocalActivitySlot {
  /**
   * Runs the work item (after earlier waiting items; at once if `startNow` started it);
   * `onResult` receives the instance message (TaskCompleted or TaskFailed, encoded) and the trace
   * headers of the run. Called once.
   */
  run(onResult: (data: Uint8Array, trace: Record<string, string> | undefined) => void): void;
  /**
   * Starts it now, before its scheduling is durable, if an execution slot is free and nothing
   * waits for one (undefined otherwise). Resolves to the instance message (never rejects).
   */
  startNow(): Promise<Uint8Array> | undefined;
  /** Its result (from `startNow`) was recorded with its scheduling: nothing more to do. */
  recorded(): void;
  /** The batch that would have owed it did not become durable: given back (a started run's result is dropped). */
  release(): void;
}

/** What the partition needs of the activity runner. */
export interface LocalActivities {
  /**
   * A place to run `effect` here, or undefined when it is not a work item of an activity this
   * worker runs, the runner is stopping, or the local backlog is full (then it is published).
   */
  claim(effect: ResolvedEffect): LocalActivitySlot | undefined;
}

/** The owed effects of one partition, by event. */
export class OwedLedger {
  private readonly byEvent = new Map<number, { s: string; x: Set<number> }>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(ref: OwedRef): void {
    let event = this.byEvent.get(ref.q);
    if (!event) this.byEvent.set(ref.q, (event = { s: ref.s, x: new Set() }));
    if (!event.x.has(ref.x)) this.count++;
    event.x.add(ref.x);
  }

  /** The effect's result is durable in its instance's history: nothing is owed for it any more. */
  settle(ref: OwedRef): void {
    const event = this.byEvent.get(ref.q);
    if (!event?.x.delete(ref.x)) return;
    this.count--;
    if (event.x.size === 0) this.byEvent.delete(ref.q);
  }

  clear(): void {
    this.byEvent.clear();
    this.count = 0;
  }

  list(): OwedEffects[] {
    return [...this.byEvent].map(([q, e]) => ({ s: e.s, q, x: [...e.x] }));
  }
}
