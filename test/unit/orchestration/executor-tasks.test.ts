import { describe, expect, it } from 'vitest';
import { orchestration } from '../../../src/orchestration/definition.js';
import { at, h } from '../../../src/orchestration/history-builders.js';
import type { Task } from '../../../src/orchestration/tasks.js';
import { run } from './fixtures.js';

const fanOut = orchestration('fanOut', function* (ctx, n: number) {
  const tasks = Array.from({ length: n }, (_, i) => ctx.callActivity<number>('square', i));
  const squares: number[] = yield ctx.all(tasks);
  return squares.reduce((a, b) => a + b, 0);
});

describe('fan-out / fan-in', () => {
  it('schedules all tasks in one turn, then completes when the last one arrives (any order)', () => {
    const start = run(fanOut, [], [h.started('fanOut', 3)]);
    expect(start.events.map((e) => e.eventId)).toEqual([1, 2, 3]);
    const history = [h.started('fanOut', 3), ...start.events];
    const partial = run(fanOut, history, [h.taskCompleted(3, 4), h.taskCompleted(1, 0)]);
    expect(partial.ex.state.status).toBe('Running');
    const done = run(fanOut, [...history, h.taskCompleted(3, 4), h.taskCompleted(1, 0)], [h.taskCompleted(2, 1)]);
    expect(done.ex.state).toMatchObject({ status: 'Completed', output: 5 });
  });

  it('fails fast when one task fails', () => {
    const r = run(fanOut, [h.started('fanOut', 2), h.taskScheduled(1, 'square', 0), h.taskScheduled(2, 'square', 1)], [h.taskFailed(2, 'no')]);
    expect(r.ex.state).toMatchObject({ status: 'Failed', failure: { message: 'no' } });
  });
});

const approval = orchestration('approval', function* (ctx) {
  const deadline = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
  const answer = ctx.waitForExternalEvent<string>('Approved');
  const winner: Task<unknown> = yield ctx.any([deadline, answer]);
  if (winner === answer) {
    deadline.cancel();
    return `approved by ${answer.result}`;
  }
  return 'timed out';
});

describe('any: timer vs event', () => {
  const history = [h.started('approval'), h.timerCreated(1, at(60))];

  it('creates the timer at now + 60s', () => {
    const r = run(approval, [], [h.started('approval')]);
    expect(r.actions).toEqual([{ type: 'createTimer', timerId: 1, fireAt: at(60) }]);
  });

  it('event wins (name is case-insensitive); the cancelled timer later is ignored', () => {
    const r = run(approval, history, [h.eventRaised('approved', 'ann', at(5))]);
    expect(r.ex.state).toMatchObject({ status: 'Completed', output: 'approved by ann' });
  });

  it('timer wins', () => {
    const r = run(approval, history, [h.timerFired(1, at(60))]);
    expect(r.ex.state).toMatchObject({ status: 'Completed', output: 'timed out' });
  });

  it('a cancelled timer firing is ignored', () => {
    const def = orchestration('cancel', function* (ctx) {
      const t = ctx.createTimer(new Date(at(10)));
      const e = ctx.waitForExternalEvent('go');
      yield e;
      t.cancel();
      yield ctx.waitForExternalEvent('go');
      return 'second go';
    });
    const r = run(def, [h.started('cancel'), h.timerCreated(1, at(10)), h.eventRaised('go')], [h.timerFired(1, at(10))]);
    expect(r.ignored).toHaveLength(1);
    expect(r.ex.state.status).toBe('Running');
  });

  it('buffers events raised before they are awaited, FIFO per name', () => {
    const def = orchestration('buffered', function* (ctx) {
      yield ctx.callActivity('first');
      const a = yield ctx.waitForExternalEvent('E');
      const b = yield ctx.waitForExternalEvent('e');
      return [a, b];
    });
    const r = run(def, [h.started('buffered'), h.taskScheduled(1, 'first'), h.eventRaised('E', 1), h.eventRaised('e', 2)], [h.taskCompleted(1)]);
    expect(r.ex.state.output).toEqual([1, 2]);
  });
});

describe('retry with backoff', () => {
  const flaky = orchestration('flaky', function* (ctx) {
    return yield ctx.callActivity('flaky', 'x', { retry: { maxAttempts: 3, firstRetryIntervalMs: 1000, backoffCoefficient: 2 } });
  });

  it('waits on durable timers (now + 1s, then now + 2s), then rethrows the last failure', () => {
    let r = run(flaky, [], [h.started('flaky')]);
    const history = [h.started('flaky'), ...r.events];
    expect(r.actions).toEqual([{ type: 'scheduleActivity', taskId: 1, name: 'flaky', input: 'x', attempt: 1 }]);

    r = run(flaky, history, [h.taskFailed(1, 'e1', 'Error', at(10))]);
    expect(r.actions).toEqual([{ type: 'createTimer', timerId: 2, fireAt: at(11) }]);
    history.push(h.taskFailed(1, 'e1', 'Error', at(10)), ...r.events);

    r = run(flaky, history, [h.timerFired(2, at(11))]);
    expect(r.actions).toEqual([{ type: 'scheduleActivity', taskId: 3, name: 'flaky', input: 'x', attempt: 2 }]);
    history.push(h.timerFired(2, at(11)), ...r.events);

    r = run(flaky, history, [h.taskFailed(3, 'e2', 'Error', at(20))]);
    expect(r.actions).toEqual([{ type: 'createTimer', timerId: 4, fireAt: at(22) }]);
    history.push(h.taskFailed(3, 'e2', 'Error', at(20)), ...r.events, h.timerFired(4, at(22)), h.taskScheduled(5, 'flaky', 'x', 3));

    r = run(flaky, history, [h.taskFailed(5, 'e3', 'Error', at(30))]);
    expect(r.actions).toEqual([]);
    expect(r.ex.state).toMatchObject({ status: 'Failed', failure: { message: 'e3' } });
  });

  it('returns the result of a later attempt', () => {
    const r = run(
      flaky,
      [h.started('flaky'), h.taskScheduled(1, 'flaky', 'x'), h.taskFailed(1, 'e1'), h.timerCreated(2, at(1)), h.timerFired(2, at(1)), h.taskScheduled(3, 'flaky', 'x', 2)],
      [h.taskCompleted(3, 'ok')],
    );
    expect(r.ex.state).toMatchObject({ status: 'Completed', output: 'ok' });
  });

  it('caps intervals at maxRetryIntervalMs', () => {
    const capped = orchestration('capped', function* (ctx) {
      return yield ctx.callActivity('f', null, { retry: { maxAttempts: 5, firstRetryIntervalMs: 1000, backoffCoefficient: 10, maxRetryIntervalMs: 5000 } });
    });
    const r = run(
      capped,
      [h.started('capped'), h.taskScheduled(1, 'f', null), h.taskFailed(1, 'a'), h.timerCreated(2, at(1)), h.timerFired(2, at(1)), h.taskScheduled(3, 'f', null, 2)],
      [h.taskFailed(3, 'b', 'Error', at(3))],
    );
    expect(r.actions).toEqual([{ type: 'createTimer', timerId: 4, fireAt: at(8) }]);
  });
});

describe('sub-orchestrations', () => {
  const parent = orchestration('parent', function* (ctx) {
    const a = yield ctx.callSubOrchestrator('child', 1);
    const b = yield ctx.callSubOrchestrator('child', 2, { instanceId: 'fixed-child' });
    return [a, b];
  });

  it('starts children with a default id and reports their outputs', () => {
    let r = run(parent, [], [h.started('parent')]);
    expect(r.actions).toEqual([{ type: 'startSubOrchestration', taskId: 1, name: 'child', instanceId: 'i1:1', input: 1, parent: { instanceId: 'i1', taskId: 1 } }]);
    r = run(parent, [h.started('parent'), ...r.events], [h.subCompleted(1, 'one')]);
    expect(r.events).toEqual([h.subCreated(2, 'child', 'fixed-child', 2)]);
    r = run(parent, [h.started('parent'), h.subCreated(1, 'child', 'i1:1', 1), h.subCompleted(1, 'one'), ...r.events], [h.subCompleted(2, 'two')]);
    expect(r.ex.state.output).toEqual(['one', 'two']);
  });

  it('a child notifies its parent when it completes or fails', () => {
    const child = orchestration('child', function* (_ctx, n: number) {
      if (n < 0) throw new Error('negative');
      return n * 2;
    });
    const parentRef = { instanceId: 'p', taskId: 4 };
    const ok = run(child, [], [h.started('child', 21, { parent: parentRef })]);
    expect(ok.actions).toEqual([{ type: 'notifyParent', instanceId: 'p', event: h.subCompleted(4, 42) }]);
    const bad = run(child, [], [h.started('child', -1, { parent: parentRef })]);
    expect(bad.actions[0]).toMatchObject({ type: 'notifyParent', instanceId: 'p', event: { type: 'SubOrchestrationFailed', taskId: 4, failure: { message: 'negative' } } });
  });
});

describe('continueAsNew and custom status', () => {
  const counter = orchestration('eternal', function* (ctx, n: number) {
    ctx.setCustomStatus({ n });
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000));
    ctx.continueAsNew(n + 1);
    return;
  });

  it('records custom status live (not while replaying) and ends with ContinueAsNew', () => {
    const first = run(counter, [], [h.started('eternal', 0)]);
    expect(first.events).toEqual([h.customStatus({ n: 0 }), h.timerCreated(1, at(1))]);
    const r = run(counter, [h.started('eternal', 0), ...first.events], [h.timerFired(1, at(1))]);
    expect(r.events).toEqual([h.continueAsNew(1, at(1))]);
    expect(r.ex.state).toMatchObject({ status: 'ContinuedAsNew', continueAsNewInput: 1, customStatus: { n: 0 } });
  });
});
