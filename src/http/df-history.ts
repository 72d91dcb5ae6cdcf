/**
 * The `historyEvents` of DF's "Get instance status" (showHistory / showHistoryOutput), built from
 * durable-nats' own history events: PascalCase entries with `EventType` and `Timestamp`, the
 * shape tools written for Durable Functions read.
 *
 * What DF's documentation shows, and this keeps:
 * - a completion absorbs its scheduling: TaskCompleted / TaskFailed and
 *   SubOrchestrationInstanceCompleted / -Failed carry `FunctionName` and `ScheduledTime` (the
 *   time it was scheduled) and the separate TaskScheduled / SubOrchestrationInstanceCreated entry
 *   is dropped; a step still waiting keeps its scheduling entry;
 * - ExecutionStarted carries `FunctionName`; ExecutionCompleted carries `OrchestrationStatus`;
 * - payloads (`Result`, and the `Input` of starts, raised and sent events) only with
 *   showHistoryOutput; failure text (`Reason`, `Details`) always.
 * Bookkeeping that DF keeps out of this view (custom status writes) is left out. Entity steps
 * appear as DF's own orchestrations see them: messages sent (EventSent) and responses received
 * (EventRaised). The client's own `history` (getStatus(...).history) is not changed by this.
 */
import type { ErrorInfo } from '../core/errors.js';
import type { HistoryEvent } from '../orchestration/history.js';

/** One DF history entry. Keys are DF's (PascalCase); absent fields are left out. */
export type DfHistoryEvent = { EventType: string; Timestamp: string } & Record<string, unknown>;

export interface DfHistoryOptions {
  /** Include results and event payloads (DF's showHistoryOutput). */
  showHistoryOutput?: boolean;
}

type Scheduled = { index: number; name: string; timestamp: string };

/** Maps a run's history (oldest first) to DF's historyEvents. Unknown shapes are passed over, never thrown on. */
export function toDfHistory(history: readonly unknown[], options: DfHistoryOptions = {}): DfHistoryEvent[] {
  const output = options.showHistoryOutput === true;
  const out: Array<DfHistoryEvent | undefined> = [];
  // Scheduling entries by task id, so the completion can absorb (and remove) them.
  const tasks = new Map<number, Scheduled>();
  const subs = new Map<number, Scheduled>();
  const payload = (key: string, value: unknown) => (output && value !== undefined ? { [key]: value } : {});
  const absorb = (pending: Map<number, Scheduled>, taskId: number) => {
    const s = pending.get(taskId);
    if (!s) return {};
    pending.delete(taskId);
    out[s.index] = undefined;
    return { FunctionName: s.name, ScheduledTime: s.timestamp };
  };

  for (const raw of history) {
    if (!raw || typeof raw !== 'object' || typeof (raw as { type?: unknown }).type !== 'string') continue;
    const e = raw as HistoryEvent;
    const base = { EventType: e.type as string, Timestamp: e.timestamp };
    switch (e.type) {
      case 'ExecutionStarted':
        out.push({ ...base, FunctionName: e.name, ...payload('Input', e.input) });
        break;
      case 'ExecutionCompleted':
        out.push({
          ...base,
          OrchestrationStatus: e.status,
          ...(e.status === 'Failed' ? failure(e.failure) : payload('Result', e.output)),
        });
        break;
      case 'ExecutionTerminated':
        // DTFx's ExecutionTerminatedEvent keeps the reason in `Input`.
        out.push({ ...base, ...(e.reason === undefined ? {} : { Input: e.reason }) });
        break;
      case 'ExecutionSuspended':
      case 'ExecutionResumed':
      case 'ExecutionRewound':
        out.push({ ...base, ...(e.reason === undefined ? {} : { Reason: e.reason }) });
        break;
      case 'ContinueAsNew':
        // DTFx's ContinueAsNewEvent: the new input is its `Result`.
        out.push({ ...base, ...payload('Result', e.input) });
        break;
      case 'TaskScheduled':
        tasks.set(e.taskId, { index: out.length, name: e.name, timestamp: e.timestamp });
        out.push({ ...base, FunctionName: e.name, ...payload('Input', e.input) });
        break;
      case 'TaskCompleted':
        out.push({ ...base, ...absorb(tasks, e.taskId), ...payload('Result', e.result) });
        break;
      case 'TaskFailed':
        out.push({ ...base, ...absorb(tasks, e.taskId), ...failure(e.failure) });
        break;
      case 'SubOrchestrationCreated':
        subs.set(e.taskId, { index: out.length, name: e.name, timestamp: e.timestamp });
        out.push({ ...base, EventType: 'SubOrchestrationInstanceCreated', FunctionName: e.name, InstanceId: e.instanceId, ...payload('Input', e.input) });
        break;
      case 'SubOrchestrationCompleted':
        out.push({ ...base, EventType: 'SubOrchestrationInstanceCompleted', ...absorb(subs, e.taskId), ...payload('Result', e.result) });
        break;
      case 'SubOrchestrationFailed':
        out.push({ ...base, EventType: 'SubOrchestrationInstanceFailed', ...absorb(subs, e.taskId), ...failure(e.failure) });
        break;
      case 'TimerCreated':
      case 'TimerFired':
        out.push({ ...base, FireAt: e.fireAt });
        break;
      case 'EventRaised':
        out.push({ ...base, Name: e.name, ...payload('Input', e.data) });
        break;
      case 'EventSent':
        out.push({ ...base, InstanceId: e.instanceId, Name: e.name, ...payload('Input', e.data) });
        break;
      case 'EntitySignaled':
      case 'EntityCalled':
        out.push({ ...base, EventType: 'EventSent', InstanceId: e.entityId, Name: e.op, ...payload('Input', e.input) });
        break;
      case 'EntityLockRequested':
      case 'EntityUnlockSent':
        // A lock travels along its entities in order: the first one is where it is sent.
        out.push({ ...base, EventType: 'EventSent', InstanceId: e.entityIds[0] ?? '', Name: e.type === 'EntityLockRequested' ? 'lock' : 'release' });
        break;
      case 'EntityResponded':
        out.push({ ...base, EventType: 'EventRaised', Name: `response:${e.requestId}`, ...(e.failure ? failure(e.failure) : payload('Input', e.result)) });
        break;
      case 'EntityLockGranted':
        out.push({ ...base, EventType: 'EventRaised', Name: `lock:${e.lockId}` });
        break;
      case 'CustomStatusSet':
        break; // DF shows custom status on the instance, not as a history entry
      default: {
        const never: never = e;
        void never;
      }
    }
  }
  return out.filter((x): x is DfHistoryEvent => x !== undefined);
}

/** DTFx's TaskFailedEvent fields: `Reason` (the message) and `Details` (type and stack). */
function failure(f: ErrorInfo | undefined): Record<string, unknown> {
  if (!f) return {};
  return { Reason: f.message, Details: f.stack ?? `${f.errorType}: ${f.message}` };
}
