import { describe, expect, it } from 'vitest';
import { orchestration, type OrchestrationDefinition } from '../../../src/orchestration/definition.js';
import { at, h } from '../../../src/orchestration/history-builders.js';
import { InstanceRuntime } from '../../../src/orchestration/instance.js';
import { helloSequence } from './fixtures.js';

const waiter = orchestration('waiter', function* (ctx) {
  ctx.setCustomStatus('waiting');
  const v = yield ctx.waitForExternalEvent('go');
  return yield ctx.callActivity('use', v);
});

const eternal = orchestration('eternal', function* (ctx, n: number) {
  const delta: number = yield ctx.waitForExternalEvent('add');
  if (n + delta >= 10) return n + delta;
  ctx.continueAsNew(n + delta);
  return;
});

const flaky = orchestration('flaky', function* (ctx) {
  const a = yield ctx.callActivity('a');
  const b = yield ctx.callActivity('b');
  return [a, b];
});

const registry = (...defs: OrchestrationDefinition[]) => ({ orchestrations: new Map(defs.map((d) => [d.name, d])) });
const reg = registry(helloSequence, waiter, eternal, flaky);
const fresh = () => InstanceRuntime.fromHistory(reg, 'i1', []);

describe('InstanceRuntime', () => {
  it('drops messages for an instance that never started', () => {
    const r = fresh().process([h.eventRaised('go', 1)], at(1));
    expect(r).toMatchObject({ appended: [], dropped: [h.eventRaised('go', 1)], status: undefined, reset: false });
  });

  it('starts a run: persists the start (without mode, with a runId) and the first steps', () => {
    const r = fresh().process([h.started('helloSequence', null, { mode: 'ifNotExists' })], at(1));
    expect(r.appended.map((e) => e.type)).toEqual(['ExecutionStarted', 'TaskScheduled']);
    expect(r.appended[0]).not.toHaveProperty('mode');
    expect(r.appended[0]).toHaveProperty('runId');
    expect(r.actions[0]).toMatchObject({ type: 'scheduleActivity', name: 'sayhello', runId: (r.appended[0] as { runId: string }).runId });
    expect(r.status).toMatchObject({
      instanceId: 'i1',
      name: 'helloSequence',
      runtimeStatus: 'Running',
      input: null,
      createdTime: h.started('x').timestamp,
      lastUpdatedTime: at(1),
    });
  });

  it('ignores a second start while running, and a raw (ifNotExists) start after completion', () => {
    const rt = fresh();
    rt.process([h.started('waiter')], at(1));
    expect(rt.process([h.started('waiter')], at(2)).dropped).toHaveLength(1);
    rt.process([h.eventRaised('go', 1)], at(3));
    const done = rt.process([h.taskCompleted(1, 'ok')], at(4));
    expect(done.status).toMatchObject({ runtimeStatus: 'Completed', output: 'ok', customStatus: 'waiting' });
    expect(rt.process([h.started('waiter', 2, { mode: 'ifNotExists' })], at(5)).dropped).toHaveLength(1);
    expect(rt.process([h.taskCompleted(1, 'again')], at(5)).dropped).toHaveLength(1);
  });

  it('replaceTerminal starts a new run and resets history', () => {
    const rt = InstanceRuntime.fromHistory(reg, 'i1', [h.started('waiter'), h.customStatus('waiting'), h.terminated('x')]);
    expect(rt.status?.runtimeStatus).toBe('Terminated');
    const r = rt.process([h.started('waiter', 'second', { mode: 'replaceTerminal' })], at(9));
    expect(r.reset).toBe(true);
    expect(r.appended.map((e) => e.type)).toEqual(['ExecutionStarted', 'CustomStatusSet']);
    expect(r.status).toMatchObject({ runtimeStatus: 'Running', input: 'second' });
  });

  it('holds events while suspended, then delivers them on resume', () => {
    const rt = fresh();
    rt.process([h.started('waiter'), h.suspended('maintenance')], at(1));
    const during = rt.process([h.eventRaised('go', 5)], at(2));
    expect(during.appended).toEqual([h.eventRaised('go', 5)]);
    expect(during.actions).toEqual([]);
    expect(during.status?.runtimeStatus).toBe('Suspended');
    const resumed = rt.process([h.resumed()], at(3));
    expect(resumed.actions).toEqual([expect.objectContaining({ type: 'scheduleActivity', input: 5 })]);
    expect(resumed.status?.runtimeStatus).toBe('Running');
    // the same history rebuilt from scratch is in the same place
    const again = InstanceRuntime.fromHistory(reg, 'i1', rt.history);
    expect(again.process([h.taskCompleted(1, 'used')], at(4)).status).toMatchObject({ runtimeStatus: 'Completed', output: 'used' });
  });

  it('terminates: status Terminated with the reason as output', () => {
    const rt = fresh();
    rt.process([h.started('waiter')], at(1));
    const r = rt.process([h.terminated('operator said so')], at(2));
    expect(r.appended).toEqual([h.terminated('operator said so')]);
    expect(r.status).toMatchObject({ runtimeStatus: 'Terminated', output: 'operator said so' });
    expect(rt.process([h.terminated('again')], at(3)).dropped).toHaveLength(1);
  });

  it('continueAsNew resets history with a new run and carries unconsumed events over', () => {
    const rt = fresh();
    rt.process([h.started('eternal', 0)], at(1));
    const r = rt.process([h.eventRaised('add', 3), h.eventRaised('add', 4)], at(2));
    expect(r.reset).toBe(true);
    expect(r.continuedAsNew).toEqual({ input: 7 });
    // run 2 (input 3) consumed the second event and continued again as run 3 (input 7)
    expect(r.appended.map((e) => e.type)).toEqual(['ExecutionStarted']);
    expect(r.appended[0]).toMatchObject({ input: 7, timestamp: at(2) });
    const last = rt.process([h.eventRaised('add', 5)], at(3));
    expect(last.status).toMatchObject({ runtimeStatus: 'Completed', output: 12 });
  });

  it('fails a run of an unknown orchestration with a clear message', () => {
    const r = fresh().process([h.started('nope')], at(1));
    expect(r.status?.runtimeStatus).toBe('Failed');
    expect(r.status?.failureDetails?.message).toMatch(/unknown orchestration 'nope'/);
  });

  it('reports a non-determinism found while rebuilding on the next process()', () => {
    const history = [h.started('helloSequence'), h.timerCreated(1, at(5))];
    const rt = InstanceRuntime.fromHistory(reg, 'i1', history);
    const r = rt.process([h.timerFired(1, at(5))], at(6));
    expect(r.dropped).toHaveLength(1);
    expect(r.appended).toEqual([expect.objectContaining({ type: 'ExecutionCompleted', status: 'Failed' })]);
    expect(r.status?.failureDetails).toMatchObject({ errorType: 'NonDeterminismError' });
    expect(r.status?.failureDetails?.message).toContain("expected createTimer at step 1 but code did callActivity('sayhello')");
  });

  it('rewinds a failed run: drops the failure and re-schedules the failed activity', () => {
    const failed = [
      h.started('flaky'),
      h.taskScheduled(1, 'a'),
      h.taskCompleted(1, 'A'),
      h.taskScheduled(2, 'b'),
      h.taskFailed(2, 'b broke'),
      h.failed({ message: 'b broke', errorType: 'DurableError' }),
    ];
    const rt = InstanceRuntime.fromHistory(reg, 'i1', failed);
    expect(rt.status?.runtimeStatus).toBe('Failed');
    const r = rt.process([h.rewound('fixed b', at(10))], at(10));
    expect(r.reset).toBe(true);
    expect(r.appended).toEqual([...failed.slice(0, 3), h.rewound('fixed b', at(10)), h.taskScheduled(2, 'b')]);
    expect(r.actions).toEqual([{ type: 'scheduleActivity', taskId: 2, name: 'b', attempt: 1 }]);
    expect(rt.process([h.taskCompleted(2, 'B')], at(11)).status).toMatchObject({ runtimeStatus: 'Completed', output: ['A', 'B'] });
    expect(rt.process([h.rewound()], at(12)).dropped).toHaveLength(1);
  });
});
