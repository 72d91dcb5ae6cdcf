/**
 * The status of an instance as clients see it (API.md OrchestrationStatus), derived from the
 * persisted history of its current run alone.
 * Invariant: a pure function of history, so every worker, the client and the HTTP layer compute
 * the same status from the same events.
 */
import type { HistoryEvent, HistoryEventOf } from './history.js';

/** Every runtime status (API.md), the one definition used by the engine, the client and the HTTP API. */
export const RUNTIME_STATUSES = ['Pending', 'Running', 'Completed', 'ContinuedAsNew', 'Failed', 'Terminated', 'Suspended'] as const;
export type RuntimeStatus = (typeof RUNTIME_STATUSES)[number];

/**
 * Terminal: the instance will not change again (until it is restarted or started anew). This is
 * what waiters wait for. `ContinuedAsNew` is not terminal: a new run of the instance follows at once.
 */
export function isTerminalStatus(s: RuntimeStatus): boolean {
  return s === 'Completed' || s === 'Failed' || s === 'Terminated';
}

export interface FailureDetails {
  message: string;
  errorType: string;
  stack?: string;
}

export interface InstanceStatus {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output?: unknown;
  customStatus?: unknown;
  failureDetails?: FailureDetails;
  createdTime: string;
  lastUpdatedTime: string;
}

/**
 * Summarizes a run's history; undefined if it has not started.
 * @example summarizeHistory([h.started('hello', 1), h.completed('done')])!.runtimeStatus === 'Completed'
 */
export function summarizeHistory(history: readonly HistoryEvent[], lastUpdatedTime?: string): InstanceStatus | undefined {
  const start = history.find((e): e is HistoryEventOf<'ExecutionStarted'> => e.type === 'ExecutionStarted');
  if (!start) return undefined;
  const status: InstanceStatus = {
    instanceId: start.instanceId,
    name: start.name,
    runtimeStatus: 'Running',
    input: start.input,
    createdTime: start.timestamp,
    lastUpdatedTime: lastUpdatedTime ?? history[history.length - 1]!.timestamp,
  };
  let suspended = false;
  for (const e of history) {
    switch (e.type) {
      case 'CustomStatusSet':
        status.customStatus = e.value;
        break;
      case 'ExecutionSuspended':
        suspended = true;
        break;
      case 'ExecutionResumed':
        suspended = false;
        break;
      case 'ExecutionTerminated':
        if (status.runtimeStatus === 'Running') Object.assign(status, { runtimeStatus: 'Terminated', output: e.reason });
        break;
      case 'ContinueAsNew':
        if (status.runtimeStatus === 'Running') Object.assign(status, { runtimeStatus: 'ContinuedAsNew' });
        break;
      case 'ExecutionCompleted':
        if (status.runtimeStatus !== 'Running') break;
        status.runtimeStatus = e.status;
        if (e.status === 'Completed') status.output = e.output;
        else if (e.failure) {
          const { message, errorType, stack } = e.failure;
          status.failureDetails = { message, errorType, ...(stack ? { stack } : {}) };
        }
        break;
      default:
        break;
    }
  }
  if (status.runtimeStatus === 'Running' && suspended) status.runtimeStatus = 'Suspended';
  return status;
}

/**
 * True if the run recorded in `history` has ended: terminal, or continued as new (that run is
 * over; the next one has its own history). The engine starts nothing more in an ended run.
 */
export function hasRunEnded(history: readonly HistoryEvent[]): boolean {
  const s = summarizeHistory(history);
  return s !== undefined && (isTerminalStatus(s.runtimeStatus) || s.runtimeStatus === 'ContinuedAsNew');
}
