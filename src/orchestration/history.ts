/**
 * History events: the event-sourced record of one orchestration run.
 *
 * Invariant: replaying the same history through the same code reaches the same state. Events the
 * code produces (TaskScheduled, TimerCreated, ...) carry `eventId` = the sequence number the code
 * assigned when it scheduled the step (1, 2, 3, ... per run); that id is what replay matches on, so
 * matching never depends on an event's position. Events that come from outside (completions,
 * raised events, control events) carry `eventId: -1` and are appended exactly as received.
 */
import type { ErrorInfo } from '../core/errors.js';

/** Where a sub-orchestration reports back to. */
export interface ParentRef {
  instanceId: string;
  taskId: number;
  runId?: string;
}

/**
 * How an ExecutionStarted message treats an instance whose last run is terminal:
 * `replaceTerminal` (client startNew, restart) starts a new run; `ifNotExists` (raw producer) is a no-op.
 */
export type StartMode = 'replaceTerminal' | 'ifNotExists';

/** The payload of each event type, by type name. */
export interface HistoryEventFields {
  /** `mode` only travels on the inbound message; it is stripped before the event is persisted. */
  /**
   * `trace`: the W3C trace context (`traceparent`, `tracestate`) of whoever started the run, kept so
   * that later episodes join that trace. Replay never compares it (trace context is not history).
   */
  ExecutionStarted: { name: string; input?: unknown; instanceId: string; parent?: ParentRef; runId?: string; mode?: StartMode; trace?: Record<string, string> };
  ExecutionCompleted: { status: 'Completed' | 'Failed'; output?: unknown; failure?: ErrorInfo };
  ExecutionTerminated: { reason?: unknown };
  ExecutionSuspended: { reason?: string };
  ExecutionResumed: { reason?: string };
  /** Marker left by a rewind (the failure and the failed steps were removed before it). */
  ExecutionRewound: { reason?: string };
  ContinueAsNew: { input?: unknown };
  TaskScheduled: { taskId: number; name: string; input?: unknown; attempt?: number };
  TaskCompleted: { taskId: number; result?: unknown; runId?: string };
  TaskFailed: { taskId: number; failure: ErrorInfo; runId?: string };
  SubOrchestrationCreated: { taskId: number; name: string; instanceId: string; input?: unknown };
  SubOrchestrationCompleted: { taskId: number; result?: unknown; runId?: string };
  SubOrchestrationFailed: { taskId: number; failure: ErrorInfo; runId?: string };
  TimerCreated: { timerId: number; fireAt: string };
  TimerFired: { timerId: number; fireAt: string; runId?: string };
  EventRaised: { name: string; data?: unknown };
  EventSent: { instanceId: string; name: string; data?: unknown };
  EntitySignaled: { entityId: string; op: string; input?: unknown; lockId?: number };
  EntityCalled: { requestId: number; entityId: string; op: string; input?: unknown; lockId?: number };
  EntityResponded: { requestId: number; result?: unknown; failure?: ErrorInfo; runId?: string };
  EntityLockRequested: { lockId: number; entityIds: string[] };
  EntityLockGranted: { lockId: number; runId?: string };
  EntityUnlockSent: { lockId: number; entityIds: string[] };
  CustomStatusSet: { value: unknown };
}

export type HistoryEventType = keyof HistoryEventFields;

/** One event of type K, e.g. `HistoryEventOf<'TaskCompleted'>`. */
export type HistoryEventOf<K extends HistoryEventType> = { type: K; eventId: number; timestamp: string } & HistoryEventFields[K];

/** The discriminated union of all history events (switch on `type`). */
export type HistoryEvent = { [K in HistoryEventType]: HistoryEventOf<K> }[HistoryEventType];

/** Event types the code produces with a sequence id (matched against history during replay). */
export type SequencedEventType =
  | 'TaskScheduled'
  | 'SubOrchestrationCreated'
  | 'TimerCreated'
  | 'EventSent'
  | 'EntitySignaled'
  | 'EntityCalled'
  | 'EntityLockRequested'
  | 'EntityUnlockSent';

export type SequencedEvent = Extract<HistoryEvent, { type: SequencedEventType }>;

const SEQUENCED: ReadonlySet<string> = new Set<SequencedEventType>([
  'TaskScheduled',
  'SubOrchestrationCreated',
  'TimerCreated',
  'EventSent',
  'EntitySignaled',
  'EntityCalled',
  'EntityLockRequested',
  'EntityUnlockSent',
]);

/** True for the events the orchestration code itself produces with a sequence id. */
export function isSequenced(e: HistoryEvent): e is SequencedEvent {
  return SEQUENCED.has(e.type);
}

/** Events that end a run. */
export function isTerminalEvent(e: HistoryEvent): boolean {
  return e.type === 'ExecutionCompleted' || e.type === 'ExecutionTerminated' || e.type === 'ContinueAsNew';
}

/** The step as a user would write it, for non-determinism messages: `callActivity('sayhello')`. */
export function describeStep(e: SequencedEvent): string {
  switch (e.type) {
    case 'TaskScheduled':
      return `callActivity('${e.name}')`;
    case 'SubOrchestrationCreated':
      return `callSubOrchestrator('${e.name}')`;
    case 'TimerCreated':
      return 'createTimer';
    case 'EventSent':
      return `sendEvent('${e.name}')`;
    case 'EntitySignaled':
      return `signalEntity('${e.entityId}', '${e.op}')`;
    case 'EntityCalled':
      return `callEntity('${e.entityId}', '${e.op}')`;
    case 'EntityLockRequested':
      return `lockEntities(${e.entityIds.map((id) => `'${id}'`).join(', ')})`;
    case 'EntityUnlockSent':
      return 'lock.release()';
    default: {
      const never: never = e;
      return String(never);
    }
  }
}

/** Same kind of step with the same target: what replay requires (inputs and fire times may differ). */
export function sameStep(a: SequencedEvent, b: SequencedEvent): boolean {
  return a.type === b.type && describeStep(a) === describeStep(b);
}
