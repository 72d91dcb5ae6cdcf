/**
 * Eager local activities: while an orchestration's batch is being prepared, the activities it
 * schedules that this worker runs are started at once (when an execution slot is free), and those
 * that finish within the same turn of the event loop are fed back to the instance before its
 * event is written: `TaskScheduled` and its `TaskCompleted` go into one append. A chain of fast
 * activities then costs one append for the whole run of steps instead of one per step. Those not
 * finished by then keep running and become ordinary local runs after the commit (owed, see
 * local-activities.ts). This is Temporal's local activity, recorded with the task that ran it.
 *
 * Invariants: the history appended is exactly what one process() call per round produced, in
 * order (replay sees the same events); an activity may run before its scheduling is durable, so a
 * failed commit (or a crash before it) runs it again: at-least-once, as every activity; the
 * partition is held for at most MAX_ROUNDS turns of the event loop per instance.
 */
import { decodeJson } from '../core/codec.js';
import type { OrchestratorAction } from '../orchestration/actions.js';
import type { HistoryEvent } from '../orchestration/history.js';
import type { InstanceRuntime, ProcessResult } from '../orchestration/instance.js';
import { parseOrchestrationMessage } from '../orchestration/messages.js';
import type { ResolvedEffect } from './actor-host.js';
import type { LocalActivities, LocalActivitySlot } from './local-activities.js';

/** Turns of the event loop one instance's batch may wait for its activities. */
const MAX_ROUNDS = 32;
/** No more rounds once this many history events are to be appended (keeps records small). */
const MAX_EVENTS = 2_000;

export interface EagerRounds {
  /** What the rounds produced together, as one process() result. */
  result: ProcessResult;
  /** Activity actions of `result` already claimed here (started or not): run after the commit. */
  claimed: Map<OrchestratorAction, LocalActivitySlot>;
}

/**
 * Runs the rounds. `held` receives every claim as it is made, so that the host can release them
 * all if the batch is not committed (also if this throws half-way).
 */
export async function runEagerRounds(o: {
  runtime: InstanceRuntime;
  first: ProcessResult;
  local: LocalActivities;
  /** The work item effect of an activity action (its dedupe id does not matter here). */
  workItem: (a: OrchestratorAction) => ResolvedEffect;
  now: () => string;
  held: LocalActivitySlot[];
}): Promise<EagerRounds> {
  const claimed = new Map<OrchestratorAction, LocalActivitySlot>();
  let { appended, actions, status, reset } = o.first;
  const dropped = [...o.first.dropped];
  const running: Array<{ action: OrchestratorAction; slot: LocalActivitySlot; data?: Uint8Array }> = [];
  for (let round = 0; round < MAX_ROUNDS && appended.length < MAX_EVENTS; round++) {
    for (const action of actions) {
      if (action.type !== 'scheduleActivity') continue;
      let slot = claimed.get(action);
      if (!slot) {
        slot = o.local.claim(o.workItem(action));
        if (!slot) continue;
        claimed.set(action, slot);
        o.held.push(slot);
      }
      const result = slot.startNow();
      if (!result) continue;
      const entry: (typeof running)[number] = { action, slot };
      running.push(entry);
      void result.then((data) => {
        entry.data = data;
      });
    }
    if (running.length === 0) break;
    // One turn: activities that only await promises (or nothing) have finished by now.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const messages: HistoryEvent[] = [];
    const recorded = new Set<OrchestratorAction>();
    for (let i = running.length - 1; i >= 0; i--) {
      const entry = running[i]!;
      if (!entry.data) continue;
      const parsed = parseOrchestrationMessage(decodeJson(entry.data));
      if (!parsed.ok) continue; // left to the ordinary path, which dead-letters it with the reason
      running.splice(i, 1);
      messages.unshift(parsed.message);
      recorded.add(entry.action);
      claimed.delete(entry.action);
      entry.slot.recorded();
    }
    if (messages.length === 0) break;
    const next = o.runtime.process(messages, o.now());
    appended = next.reset ? next.appended : appended.concat(next.appended);
    reset ||= next.reset;
    actions = actions.filter((a) => !recorded.has(a)).concat(next.actions);
    status = next.status;
    dropped.push(...next.dropped);
  }
  return { result: { appended, reset, actions, status, dropped }, claimed };
}
