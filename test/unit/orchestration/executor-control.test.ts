import { describe, expect, it } from 'vitest';
import { orchestration } from '../../../src/orchestration/definition.js';
import { OrchestrationExecutor } from '../../../src/orchestration/executor.js';
import { h } from '../../../src/orchestration/history-builders.js';
import { helloSequence, run } from './fixtures.js';

describe('non-determinism', () => {
  const changed = orchestration('helloSequence', function* (ctx) {
    yield ctx.callActivity('sayHello', 'Tokyo');
    yield ctx.callActivity('sayHello', 'Seattle');
    yield ctx.createTimer(new Date(0)); // used to be callActivity('sayHello', 'London')
    return 'changed';
  });
  const history = [
    h.started('helloSequence'),
    h.taskScheduled(1, 'sayhello', 'Tokyo'),
    h.taskCompleted(1, 'a'),
    h.taskScheduled(2, 'sayhello', 'Seattle'),
    h.taskCompleted(2, 'b'),
    h.taskScheduled(3, 'sayhello', 'London'),
  ];

  it('fails the run naming the expected and the actual step', () => {
    const r = run(changed, history, [h.taskCompleted(3, 'c')]);
    expect(r.ex.state.status).toBe('Failed');
    const failure = r.ex.state.failure!;
    expect(failure).toMatchObject({ errorType: 'NonDeterminismError', code: 'nondeterminism' });
    expect(failure.message).toContain("expected callActivity('sayhello') at step 3 but code did createTimer");
    expect(r.events).toEqual([expect.objectContaining({ type: 'ExecutionCompleted', status: 'Failed', failure })]);
    expect(r.actions).toEqual([]); // the diverged code's timer is never created
    expect(r.ignored).toHaveLength(1);
  });

  it('detects code that now does fewer steps', () => {
    const shorter = orchestration('helloSequence', function* (ctx) {
      return yield ctx.callActivity('sayHello', 'Tokyo');
    });
    const r = run(shorter, history);
    expect(r.ex.state.failure?.message).toContain("expected callActivity('sayhello') at step 2 but code did nothing (it had already returned)");
  });

  it('accepts the same code (sanity)', () => {
    expect(run(helloSequence, history).ex.state.status).toBe('Running');
  });
});

describe('suspend / resume / terminate', () => {
  const waiter = orchestration('waiter', function* (ctx) {
    const v = yield ctx.waitForExternalEvent('go');
    return yield ctx.callActivity('use', v);
  });

  it('holds events raised while suspended until resumed', () => {
    const ex = new OrchestrationExecutor(waiter, 'i1');
    ex.apply([h.started('waiter'), h.suspended('pause')], false);
    ex.apply([h.eventRaised('go', 7)], false);
    expect(ex.takeNew().events).toEqual([]);
    expect(ex.state.suspended).toBe(true);
    ex.apply([h.resumed()], false);
    expect(ex.takeNew().actions).toEqual([{ type: 'scheduleActivity', taskId: 1, name: 'use', input: 7, attempt: 1 }]);
  });

  it('replays a suspended-then-resumed history the same way', () => {
    const r = run(waiter, [h.started('waiter'), h.suspended(), h.eventRaised('go', 7), h.resumed(), h.taskScheduled(1, 'use', 7)], [h.taskCompleted(1, 'used')]);
    expect(r.ex.state.output).toBe('used');
  });

  it('terminates (output = reason), releasing held locks, and ignores later events', () => {
    const locker = orchestration('locker', function* (ctx) {
      yield ctx.lockEntities('@c@a');
      yield ctx.waitForExternalEvent('never');
    });
    const r = run(locker, [h.started('locker'), h.lockRequested(1, ['@c@a']), h.lockGranted(1)], [h.terminated('enough'), h.eventRaised('never')]);
    expect(r.ex.state).toMatchObject({ status: 'Terminated', output: 'enough' });
    expect(r.events).toEqual([h.unlockSent(2, 1, ['@c@a'])]);
    expect(r.actions).toEqual([{ type: 'sendEntityMessage', kind: 'unlock', entityId: '@c@a', lockId: 1 }]);
    expect(r.ignored.map((e) => e.type)).toEqual(['EventRaised']);
  });

  it('terminates a child and tells its parent', () => {
    const r = run(waiter, [h.started('waiter', null, { parent: { instanceId: 'p', taskId: 2 } })], [h.terminated('stop')]);
    expect(r.actions).toEqual([{ type: 'notifyParent', instanceId: 'p', event: expect.objectContaining({ type: 'SubOrchestrationFailed', taskId: 2 }) }]);
  });
});
