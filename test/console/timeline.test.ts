/** The console's timeline (console/src/timeline.ts): history events paired into spans, pure. */
import { describe, expect, it } from 'vitest';
import { buildTimeline, entitiesTouched, type HistoryEvent } from '../../console/src/timeline.js';

const at = (ms: number) => new Date(Date.UTC(2030, 0, 1) + ms).toISOString();
const ev = (type: string, ms: number, fields: Record<string, unknown> = {}): HistoryEvent => ({ type, eventId: -1, timestamp: at(ms), ...fields });

describe('buildTimeline', () => {
  it('pairs each start with its end by id, with durations; failures and pending steps are marked', () => {
    const spans = buildTimeline([
      ev('ExecutionStarted', 0, { name: 'flow', instanceId: 'i' }),
      ev('TaskScheduled', 0, { taskId: 0, name: 'a' }),
      ev('TaskScheduled', 0, { taskId: 1, name: 'b' }),
      ev('TaskCompleted', 120, { taskId: 1 }),
      ev('TaskFailed', 300, { taskId: 0, failure: { message: 'x', errorType: 'Error' } }),
      ev('TimerCreated', 300, { timerId: 2, fireAt: at(1300) }),
      ev('TimerFired', 1300, { timerId: 2, fireAt: at(1300) }),
      ev('SubOrchestrationCreated', 1300, { taskId: 3, name: 'child', instanceId: 'i:3' }),
      ev('EntityCalled', 1300, { requestId: 4, entityId: '@counter@x', op: 'get' }),
      ev('EntityResponded', 1350, { requestId: 4, result: 1 }),
      ev('EntitySignaled', 1350, { entityId: '@acct@y', op: 'add' }),
      ev('EventRaised', 1400, { name: 'go' }),
    ]);
    const by = (kind: string, label?: string) => spans.find((s) => s.kind === kind && (label === undefined || s.label === label))!;
    expect(by('Activity', 'a')).toMatchObject({ outcome: 'failed', durationMs: 300 });
    expect(by('Activity', 'b')).toMatchObject({ outcome: 'completed', durationMs: 120 });
    expect(by('Timer')).toMatchObject({ outcome: 'completed', durationMs: 1000 });
    expect(by('Sub-orchestration')).toMatchObject({ outcome: 'pending', instanceId: 'i:3' });
    expect(by('Sub-orchestration').end).toBeUndefined();
    expect(by('Entity call')).toMatchObject({ outcome: 'completed', durationMs: 50 });
    expect(by('Event', 'go').durationMs).toBeUndefined();
    expect(by('Orchestration')).toMatchObject({ outcome: 'pending' });
    expect(entitiesTouched(spans)).toEqual(['@counter@x', '@acct@y']);
  });

  it('ends the run on completion, termination or continue-as-new', () => {
    expect(buildTimeline([ev('ExecutionStarted', 0, { name: 'f' }), ev('ExecutionCompleted', 40, { status: 'Completed' })])[0]).toMatchObject({
      kind: 'Orchestration',
      outcome: 'completed',
      durationMs: 40,
    });
    expect(buildTimeline([ev('ExecutionStarted', 0, { name: 'f' }), ev('ExecutionCompleted', 40, { status: 'Failed' })])[0]!.outcome).toBe('failed');
    const t = buildTimeline([ev('ExecutionStarted', 0, { name: 'f' }), ev('ExecutionTerminated', 10, { reason: 'stop' })]);
    expect(t.map((s) => s.kind)).toEqual(['Orchestration', 'Terminated']);
    expect(t[1]!.label).toBe('stop');
  });
});
