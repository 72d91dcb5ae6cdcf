/**
 * Builders of history events, for tests (here and in the worker) and golden histories.
 * Invariant: builders only fill in defaults (eventId -1 for inbound events, timestamp T0); the
 * event shapes are exactly those of history.ts.
 */
import type { ErrorInfo } from '../core/errors.js';
import type { HistoryEventFields, HistoryEventOf, HistoryEventType, ParentRef, StartMode } from './history.js';

/** The default timestamp of built events. */
export const T0 = '2024-01-01T00:00:00.000Z';

/** T0 plus `seconds`, as ISO: `at(5) === '2024-01-01T00:00:05.000Z'`. */
export function at(seconds: number): string {
  return new Date(Date.parse(T0) + seconds * 1000).toISOString();
}

/** Any event: `event('TaskCompleted', -1, { taskId: 1, result: 'x' })`. */
export function event<K extends HistoryEventType>(type: K, eventId: number, fields: HistoryEventFields[K], timestamp = T0): HistoryEventOf<K> {
  return { type, eventId, timestamp, ...fields } as HistoryEventOf<K>;
}

const failure = (message: string, errorType = 'Error'): ErrorInfo => ({ message, errorType });

/**
 * Short builders. Code-produced events take their sequence id first; inbound ones end with an
 * optional timestamp.
 * @example [h.started('hello', null), h.taskScheduled(1, 'sayhello', 'Tokyo'), h.taskCompleted(1, 'Hello Tokyo!')]
 */
export const h = {
  started: (name: string, input?: unknown, o: { instanceId?: string; parent?: ParentRef; runId?: string; mode?: StartMode; at?: string } = {}) =>
    event(
      'ExecutionStarted',
      -1,
      {
        name,
        input,
        instanceId: o.instanceId ?? 'i1',
        ...(o.parent ? { parent: o.parent } : {}),
        ...(o.runId ? { runId: o.runId } : {}),
        ...(o.mode ? { mode: o.mode } : {}),
      },
      o.at,
    ),
  completed: (output?: unknown, ts?: string) => event('ExecutionCompleted', -1, { status: 'Completed', output }, ts),
  failed: (f: ErrorInfo, ts?: string) => event('ExecutionCompleted', -1, { status: 'Failed', failure: f }, ts),
  terminated: (reason?: unknown, ts?: string) => event('ExecutionTerminated', -1, { reason }, ts),
  suspended: (reason?: string, ts?: string) => event('ExecutionSuspended', -1, reason === undefined ? {} : { reason }, ts),
  resumed: (reason?: string, ts?: string) => event('ExecutionResumed', -1, reason === undefined ? {} : { reason }, ts),
  rewound: (reason?: string, ts?: string) => event('ExecutionRewound', -1, reason === undefined ? {} : { reason }, ts),
  continueAsNew: (input?: unknown, ts?: string) => event('ContinueAsNew', -1, { input }, ts),
  customStatus: (value: unknown, ts?: string) => event('CustomStatusSet', -1, { value }, ts),

  taskScheduled: (id: number, name: string, input?: unknown, attempt = 1, ts?: string) => event('TaskScheduled', id, { taskId: id, name, input, attempt }, ts),
  taskCompleted: (id: number, result?: unknown, ts?: string) => event('TaskCompleted', -1, { taskId: id, result }, ts),
  taskFailed: (id: number, message: string, errorType?: string, ts?: string) => event('TaskFailed', -1, { taskId: id, failure: failure(message, errorType) }, ts),
  subCreated: (id: number, name: string, instanceId: string, input?: unknown, ts?: string) => event('SubOrchestrationCreated', id, { taskId: id, name, instanceId, input }, ts),
  subCompleted: (id: number, result?: unknown, ts?: string) => event('SubOrchestrationCompleted', -1, { taskId: id, result }, ts),
  subFailed: (id: number, message: string, ts?: string) => event('SubOrchestrationFailed', -1, { taskId: id, failure: failure(message) }, ts),
  timerCreated: (id: number, fireAt: string, ts?: string) => event('TimerCreated', id, { timerId: id, fireAt }, ts),
  timerFired: (id: number, fireAt: string, ts: string = fireAt) => event('TimerFired', -1, { timerId: id, fireAt }, ts),
  eventRaised: (name: string, data?: unknown, ts?: string) => event('EventRaised', -1, { name, data }, ts),
  eventSent: (id: number, instanceId: string, name: string, data?: unknown, ts?: string) => event('EventSent', id, { instanceId, name, data }, ts),

  entitySignaled: (id: number, entityId: string, op: string, input?: unknown, ts?: string) => event('EntitySignaled', id, { entityId, op, input }, ts),
  entityCalled: (id: number, entityId: string, op: string, input?: unknown, ts?: string) => event('EntityCalled', id, { requestId: id, entityId, op, input }, ts),
  entityResponded: (requestId: number, result?: unknown, ts?: string) => event('EntityResponded', -1, { requestId, result }, ts),
  entityFailed: (requestId: number, message: string, ts?: string) => event('EntityResponded', -1, { requestId, failure: failure(message) }, ts),
  lockRequested: (id: number, entityIds: string[], ts?: string) => event('EntityLockRequested', id, { lockId: id, entityIds }, ts),
  lockGranted: (lockId: number, ts?: string) => event('EntityLockGranted', -1, { lockId }, ts),
  unlockSent: (id: number, lockId: number, entityIds: string[], ts?: string) => event('EntityUnlockSent', id, { lockId, entityIds }, ts),
};
