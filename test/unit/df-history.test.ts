/** DF's historyEvents built from durable-nats history: the collapsing of scheduled + completed, and what stays. */
import { describe, expect, it } from 'vitest';
import { toDfHistory } from '../../src/http/df-history.js';

const t = (s: number) => `2030-01-01T00:00:${String(s).padStart(2, '0')}.000Z`;

describe('toDfHistory', () => {
  it('collapses sub-orchestrations into one entry; a step still waiting keeps its scheduling entry', () => {
    const history = [
      { type: 'ExecutionStarted', eventId: -1, timestamp: t(0), name: 'parent', instanceId: 'p', input: { a: 1 } },
      { type: 'SubOrchestrationCreated', eventId: 1, timestamp: t(1), taskId: 1, name: 'child', instanceId: 'p:1' },
      { type: 'TaskScheduled', eventId: 2, timestamp: t(2), taskId: 2, name: 'slow', input: 5 },
      { type: 'CustomStatusSet', eventId: -1, timestamp: t(2), value: 'x' },
      { type: 'SubOrchestrationFailed', eventId: -1, timestamp: t(3), taskId: 1, failure: { message: 'child broke', errorType: 'Error' } },
      { type: 'EventRaised', eventId: -1, timestamp: t(4), name: 'go', data: 7 },
      { type: 'ExecutionTerminated', eventId: -1, timestamp: t(5), reason: 'enough' },
    ];
    expect(toDfHistory(history, { showHistoryOutput: true })).toEqual([
      { EventType: 'ExecutionStarted', Timestamp: t(0), FunctionName: 'parent', Input: { a: 1 } },
      { EventType: 'TaskScheduled', Timestamp: t(2), FunctionName: 'slow', Input: 5 },
      { EventType: 'SubOrchestrationInstanceFailed', Timestamp: t(3), FunctionName: 'child', ScheduledTime: t(1), Reason: 'child broke', Details: 'Error: child broke' },
      { EventType: 'EventRaised', Timestamp: t(4), Name: 'go', Input: 7 },
      { EventType: 'ExecutionTerminated', Timestamp: t(5), Input: 'enough' },
    ]);
    expect(toDfHistory(history)[3]).toEqual({ EventType: 'EventRaised', Timestamp: t(4), Name: 'go' });
  });

  it('pairs each completion with its own scheduling (retries schedule the same task again)', () => {
    const history = [
      { type: 'TaskScheduled', eventId: 1, timestamp: t(1), taskId: 1, name: 'flaky' },
      { type: 'TaskFailed', eventId: -1, timestamp: t(2), taskId: 1, failure: { message: 'no', errorType: 'Error', stack: 'Error: no\n  at x' } },
      { type: 'TaskScheduled', eventId: 1, timestamp: t(3), taskId: 1, name: 'flaky', attempt: 2 },
      { type: 'TaskCompleted', eventId: -1, timestamp: t(4), taskId: 1, result: 'ok' },
      { type: 'ExecutionCompleted', eventId: -1, timestamp: t(5), status: 'Failed', failure: { message: 'later', errorType: 'Error' } },
      { nonsense: true },
    ];
    expect(toDfHistory(history, { showHistoryOutput: true })).toEqual([
      { EventType: 'TaskFailed', Timestamp: t(2), FunctionName: 'flaky', ScheduledTime: t(1), Reason: 'no', Details: 'Error: no\n  at x' },
      { EventType: 'TaskCompleted', Timestamp: t(4), FunctionName: 'flaky', ScheduledTime: t(3), Result: 'ok' },
      { EventType: 'ExecutionCompleted', Timestamp: t(5), OrchestrationStatus: 'Failed', Reason: 'later', Details: 'Error: later' },
    ]);
  });
});
