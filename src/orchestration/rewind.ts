/**
 * Rewind of a failed run: remove the failure and the failed steps that caused it, so that replay
 * schedules those steps again (with the same sequence ids) and the run continues from there.
 * Invariant: only events after the code's last step are removed, so everything the code did
 * before the failure still replays exactly; ids of the re-scheduled steps are unchanged.
 * Limits: a failure that was caught and followed by more steps is not "the cause" and stays; a
 * run whose failure released entity locks is not rewound (the locks are gone).
 */
import type { HistoryEvent, HistoryEventOf } from './history.js';
import { isSequenced } from './history.js';

/**
 * The history to replay after a rewind, ending with `marker` (the ExecutionRewound event), or
 * undefined when the run is not failed or cannot be rewound.
 */
export function rewindHistory(history: readonly HistoryEvent[], marker: HistoryEventOf<'ExecutionRewound'>): HistoryEvent[] | undefined {
  const end = history.findIndex((e) => e.type === 'ExecutionCompleted');
  const completed = history[end];
  if (completed?.type !== 'ExecutionCompleted' || completed.status !== 'Failed') return undefined;
  let lastStep = -1;
  for (let i = 0; i < end; i++) if (isSequenced(history[i]!)) lastStep = i;
  if (history[lastStep]?.type === 'EntityUnlockSent') return undefined;
  const failed = new Set<number>();
  for (let i = lastStep + 1; i < end; i++) {
    const e = history[i]!;
    if (e.type === 'TaskFailed' || e.type === 'SubOrchestrationFailed') failed.add(e.taskId);
  }
  const kept = history.slice(0, end).filter((e, i) => {
    if ((e.type === 'TaskFailed' || e.type === 'SubOrchestrationFailed') && i > lastStep) return false;
    if ((e.type === 'TaskScheduled' || e.type === 'SubOrchestrationCreated') && failed.has(e.taskId)) return false;
    return true;
  });
  return [...kept, marker];
}
