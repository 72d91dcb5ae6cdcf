/**
 * An orchestration's history as a timeline: one span per activity, timer, sub-orchestration,
 * entity call or lock, from the event that started it to the one that ended it; external events
 * and signals are instants. Pure: history events in, spans out.
 */
export interface HistoryEvent {
  type: string;
  eventId?: number;
  timestamp: string;
  [field: string]: unknown;
}

export interface Span {
  kind: 'Orchestration' | 'Activity' | 'Timer' | 'Sub-orchestration' | 'Entity call' | 'Entity signal' | 'Entity lock' | 'Event' | 'Event sent' | 'Custom status' | 'Suspended' | 'Resumed' | 'Rewound' | 'Terminated' | 'Continued as new';
  label: string;
  start: string;
  end?: string;
  durationMs?: number;
  outcome?: 'completed' | 'failed' | 'pending';
  instanceId?: string;
  entityIds?: string[];
}

const ms = (a: string, b: string) => new Date(b).getTime() - new Date(a).getTime();

export function buildTimeline(history: HistoryEvent[]): Span[] {
  const spans: Span[] = [];
  const open = new Map<string, Span>();
  const close = (key: string, e: HistoryEvent, outcome: 'completed' | 'failed') => {
    const s = open.get(key);
    if (!s) return;
    s.end = e.timestamp;
    s.durationMs = ms(s.start, e.timestamp);
    s.outcome = outcome;
    open.delete(key);
  };
  const begin = (key: string | null, s: Span) => {
    spans.push(s);
    if (key) open.set(key, s);
  };
  for (const e of history) {
    const str = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : '');
    switch (e.type) {
      case 'ExecutionStarted': begin('run', { kind: 'Orchestration', label: str('name'), start: e.timestamp, outcome: 'pending' }); break;
      case 'ExecutionCompleted': close('run', e, e.status === 'Failed' ? 'failed' : 'completed'); break;
      case 'ExecutionTerminated':
        close('run', e, 'failed');
        spans.push({ kind: 'Terminated', label: typeof e.reason === 'string' ? e.reason : '', start: e.timestamp });
        break;
      case 'ContinueAsNew': close('run', e, 'completed'); spans.push({ kind: 'Continued as new', label: '', start: e.timestamp }); break;
      case 'TaskScheduled': begin(`task:${e.taskId}`, { kind: 'Activity', label: str('name'), start: e.timestamp, outcome: 'pending' }); break;
      case 'TaskCompleted': close(`task:${e.taskId}`, e, 'completed'); break;
      case 'TaskFailed': close(`task:${e.taskId}`, e, 'failed'); break;
      case 'SubOrchestrationCreated':
        begin(`task:${e.taskId}`, { kind: 'Sub-orchestration', label: str('name'), start: e.timestamp, outcome: 'pending', instanceId: str('instanceId') });
        break;
      case 'SubOrchestrationCompleted': close(`task:${e.taskId}`, e, 'completed'); break;
      case 'SubOrchestrationFailed': close(`task:${e.taskId}`, e, 'failed'); break;
      case 'TimerCreated': begin(`timer:${e.timerId}`, { kind: 'Timer', label: `until ${str('fireAt')}`, start: e.timestamp, outcome: 'pending' }); break;
      case 'TimerFired': close(`timer:${e.timerId}`, e, 'completed'); break;
      case 'EventRaised': spans.push({ kind: 'Event', label: str('name'), start: e.timestamp }); break;
      case 'EventSent': spans.push({ kind: 'Event sent', label: `${str('name')} to ${str('instanceId')}`, start: e.timestamp, instanceId: str('instanceId') }); break;
      case 'EntitySignaled': spans.push({ kind: 'Entity signal', label: `${str('entityId')} ${str('op')}`, start: e.timestamp, entityIds: [str('entityId')] }); break;
      case 'EntityCalled':
        begin(`call:${e.requestId}`, { kind: 'Entity call', label: `${str('entityId')} ${str('op')}`, start: e.timestamp, outcome: 'pending', entityIds: [str('entityId')] });
        break;
      case 'EntityResponded': close(`call:${e.requestId}`, e, e.failure ? 'failed' : 'completed'); break;
      case 'EntityLockRequested': {
        const ids = Array.isArray(e.entityIds) ? (e.entityIds as string[]) : [];
        begin(`lock:${e.lockId}`, { kind: 'Entity lock', label: ids.join(', '), start: e.timestamp, outcome: 'pending', entityIds: ids });
        break;
      }
      case 'EntityUnlockSent': close(`lock:${e.lockId}`, e, 'completed'); break;
      case 'CustomStatusSet': spans.push({ kind: 'Custom status', label: JSON.stringify(e.value) ?? '', start: e.timestamp }); break;
      case 'ExecutionSuspended': spans.push({ kind: 'Suspended', label: str('reason'), start: e.timestamp }); break;
      case 'ExecutionResumed': spans.push({ kind: 'Resumed', label: str('reason'), start: e.timestamp }); break;
      case 'ExecutionRewound': spans.push({ kind: 'Rewound', label: str('reason'), start: e.timestamp }); break;
      default: break;
    }
  }
  return spans;
}

/** The entities an instance touched (signals, calls, locks), each once, in first-touch order. */
export function entitiesTouched(spans: Span[]): string[] {
  return [...new Set(spans.flatMap((s) => s.entityIds ?? []).filter((x) => x.length > 0))];
}
