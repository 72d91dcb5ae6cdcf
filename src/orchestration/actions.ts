/**
 * Orchestrator actions: the side effects the worker carries out after it has persisted the
 * history events that record them (outbox order: persist first, then act).
 * Invariant: every action corresponds to a history event produced in the same turn, so a worker
 * that crashes between persisting and acting can rebuild the actions from history.
 */
import type { ErrorInfo } from '../core/errors.js';
import type { HistoryEvent, HistoryEventOf, ParentRef } from './history.js';
import { terminatedInfo } from './failures.js';

/** Run activity `name`; reply with TaskCompleted/TaskFailed `{ taskId, runId }`. */
export interface ScheduleActivityAction {
  type: 'scheduleActivity';
  taskId: number;
  name: string;
  input?: unknown;
  /** 1 for the first attempt, 2 for the first retry, ... (passed to the activity's ctx). */
  attempt: number;
  runId?: string;
}

/** Fire TimerFired `{ timerId, fireAt, runId }` into this instance at `fireAt`. */
export interface CreateTimerAction {
  type: 'createTimer';
  timerId: number;
  fireAt: string;
  runId?: string;
}

/** Start child `instanceId`; its ExecutionStarted carries `parent` so it reports back. */
export interface StartSubOrchestrationAction {
  type: 'startSubOrchestration';
  taskId: number;
  name: string;
  instanceId: string;
  input?: unknown;
  parent: ParentRef;
}

/**
 * A message to an entity. `call` expects EntityResponded `{ requestId }`; `lock` goes to the first
 * entity of `lockSet` (sorted, deduplicated) and EntityLockGranted `{ lockId }` comes back once all
 * of them are held; `unlock` (one action per entity) releases it, also when the grant never came.
 * `lockId` on a call or signal means "inside the critical section of that lock".
 */
export interface SendEntityMessageAction {
  type: 'sendEntityMessage';
  kind: 'signal' | 'call' | 'lock' | 'unlock';
  entityId: string;
  op?: string;
  input?: unknown;
  requestId?: number;
  lockId?: number;
  lockSet?: string[];
  runId?: string;
}

/** Raise event `name` on another instance. */
export interface SendEventAction {
  type: 'sendEvent';
  instanceId: string;
  name: string;
  data?: unknown;
}

/** Deliver `event` (SubOrchestrationCompleted/Failed) to the parent instance's inbox, verbatim. */
export interface NotifyParentAction {
  type: 'notifyParent';
  instanceId: string;
  event: HistoryEventOf<'SubOrchestrationCompleted'> | HistoryEventOf<'SubOrchestrationFailed'>;
}

export type OrchestratorAction = ScheduleActivityAction | CreateTimerAction | StartSubOrchestrationAction | SendEntityMessageAction | SendEventAction | NotifyParentAction;

/** Builds the notification a finished child sends to its parent. */
export function parentNotification(parent: ParentRef, timestamp: string, outcome: { result?: unknown; failure?: ErrorInfo }): NotifyParentAction {
  const base = { eventId: -1, timestamp, taskId: parent.taskId, ...(parent.runId !== undefined ? { runId: parent.runId } : {}) };
  const event: NotifyParentAction['event'] = outcome.failure
    ? { type: 'SubOrchestrationFailed', ...base, failure: outcome.failure }
    : { type: 'SubOrchestrationCompleted', ...base, result: outcome.result };
  return { type: 'notifyParent', instanceId: parent.instanceId, event };
}

/**
 * Rebuilds the actions that recorded `events` stand for (outbox recovery: a worker that
 * persisted a turn and died before acting re-derives its actions from the persisted tail).
 * For the events of one turn it returns exactly the actions that turn produced.
 * @example actionsFromEvents(result.appended, { instanceId, runId }) // deep-equals result.actions
 */
export function actionsFromEvents(events: readonly HistoryEvent[], run: { instanceId: string; runId?: string; parent?: ParentRef }): OrchestratorAction[] {
  const r = run.runId !== undefined ? { runId: run.runId } : {};
  const out: OrchestratorAction[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'TaskScheduled':
        out.push({ type: 'scheduleActivity', taskId: e.taskId, name: e.name, input: e.input, attempt: e.attempt ?? 1, ...r });
        break;
      case 'TimerCreated':
        out.push({ type: 'createTimer', timerId: e.timerId, fireAt: e.fireAt, ...r });
        break;
      case 'SubOrchestrationCreated':
        out.push({
          type: 'startSubOrchestration',
          taskId: e.taskId,
          name: e.name,
          instanceId: e.instanceId,
          input: e.input,
          parent: { instanceId: run.instanceId, taskId: e.taskId, ...r },
        });
        break;
      case 'EventSent':
        out.push({ type: 'sendEvent', instanceId: e.instanceId, name: e.name, data: e.data });
        break;
      case 'EntitySignaled':
        out.push({ type: 'sendEntityMessage', kind: 'signal', entityId: e.entityId, op: e.op, input: e.input, ...(e.lockId !== undefined ? { lockId: e.lockId } : {}) });
        break;
      case 'EntityCalled':
        out.push({
          type: 'sendEntityMessage',
          kind: 'call',
          entityId: e.entityId,
          op: e.op,
          input: e.input,
          requestId: e.requestId,
          ...(e.lockId !== undefined ? { lockId: e.lockId } : {}),
          ...r,
        });
        break;
      case 'EntityLockRequested':
        out.push({ type: 'sendEntityMessage', kind: 'lock', entityId: e.entityIds[0]!, lockId: e.lockId, lockSet: [...e.entityIds], ...r });
        break;
      case 'EntityUnlockSent':
        for (const entityId of e.entityIds) out.push({ type: 'sendEntityMessage', kind: 'unlock', entityId, lockId: e.lockId, ...r });
        break;
      case 'ExecutionCompleted':
        if (run.parent) out.push(parentNotification(run.parent, e.timestamp, e.status === 'Failed' ? { failure: e.failure! } : { result: e.output }));
        break;
      case 'ExecutionTerminated':
        if (run.parent) out.push(parentNotification(run.parent, e.timestamp, { failure: terminatedInfo(e.reason) }));
        break;
      default:
        break;
    }
  }
  return out;
}
