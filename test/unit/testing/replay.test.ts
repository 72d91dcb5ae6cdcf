/**
 * replayHistory: recorded histories (golden fixtures and histories recorded here by the engine's
 * InstanceRuntime, as a worker would persist them) replayed against today's and changed code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DurableError } from '../../../src/core/errors.js';
import { orchestration, type OrchestrationDefinition } from '../../../src/orchestration/definition.js';
import { at, h } from '../../../src/orchestration/history-builders.js';
import type { HistoryEvent } from '../../../src/orchestration/history.js';
import { InstanceRuntime } from '../../../src/orchestration/instance.js';
import { replayHistory } from '../../../src/testing/index.js';
import { helloSequence, orderFlow } from '../orchestration/fixtures.js';

const fixture = (f: string) => JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/histories', f), 'utf8')) as { history: HistoryEvent[] };

/** Records what a worker would persist: the current run's history after each inbound message. */
function record(def: OrchestrationDefinition, inbound: HistoryEvent[]): HistoryEvent[] {
  const rt = InstanceRuntime.fromHistory({ orchestrations: new Map([[def.name, def]]) }, 'i1', []);
  let persisted: HistoryEvent[] = [];
  for (const [i, m] of inbound.entries()) {
    const r = rt.process([m], at(i));
    persisted = r.reset ? r.appended : [...persisted, ...r.appended];
  }
  // What getStatus returns is JSON: compare what survives serialisation.
  return JSON.parse(JSON.stringify(persisted)) as HistoryEvent[];
}

function nondeterminism(fn: () => unknown): DurableError {
  try {
    fn();
  } catch (e) {
    expect(DurableError.is(e, 'nondeterminism')).toBe(true);
    return e as DurableError;
  }
  throw new Error('expected a nondeterminism error');
}

const v1 = orchestration('approve', function* (ctx, id: string) {
  const checked = yield ctx.callActivity('check', id);
  const ok = yield ctx.waitForExternalEvent('Approval');
  ctx.setCustomStatus('approved');
  return { checked, ok };
});

const approvedRun = [h.started('approve', 'o-1'), h.taskCompleted(1, 'fine'), h.eventRaised('Approval', true)];

describe('replayHistory', () => {
  it('replays the golden histories with the engine and reports the status they reach', () => {
    expect(replayHistory(helloSequence, fixture('hello-sequence.json').history)).toEqual({
      instanceId: 'hello-1',
      name: 'helloSequence',
      runtimeStatus: 'Completed',
      output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
      events: 8,
      steps: 3,
    });
    const order = replayHistory(orderFlow, fixture('order-flow.json').history);
    expect(order).toMatchObject({ instanceId: 'order-17', runtimeStatus: 'Completed', output: { status: 'done' } });
  });

  it('throws nondeterminism naming the expected and the actual step on the nondeterministic fixture', () => {
    const e = nondeterminism(() => replayHistory(helloSequence, fixture('hello-sequence-v0-nondeterministic.json').history));
    expect(e.message).toContain("expected callActivity('greet') at step 2 but code did callActivity('sayhello')");
    expect(e.details).toEqual({ step: 2, expected: "callActivity('greet')", actual: "callActivity('sayhello')" });
  });

  it('accepts the whole status that `durable-nats status <id> --history --json` prints', () => {
    const history = record(v1, approvedRun);
    const status = { instanceId: 'i1', name: 'approve', runtimeStatus: 'Completed', history };
    expect(replayHistory(v1, JSON.parse(JSON.stringify(status)))).toMatchObject({ runtimeStatus: 'Completed', customStatus: 'approved' });
  });

  it('passes histories of running, suspended, terminated and continued runs recorded by the engine', () => {
    expect(replayHistory(v1, record(v1, approvedRun.slice(0, 2)))).toMatchObject({ runtimeStatus: 'Running', steps: 1 });
    expect(replayHistory(v1, record(v1, [...approvedRun.slice(0, 2), h.suspended('x')]))).toMatchObject({ runtimeStatus: 'Suspended' });
    expect(replayHistory(v1, record(v1, [...approvedRun.slice(0, 2), h.terminated('stop')]))).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    const looper = orchestration('looper', function* (ctx, n: number) {
      yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000));
      if (n < 2) ctx.continueAsNew(n + 1);
      return n;
    });
    const fired = (runAt: number) => h.timerFired(1, at(runAt + 1));
    const history = record(looper, [h.started('looper', 0), fired(0), fired(1), fired(2)]);
    expect(history[0]).toMatchObject({ type: 'ExecutionStarted', input: 2 });
    expect(replayHistory(looper, history)).toMatchObject({ runtimeStatus: 'Completed', output: 2 });
  });

  it("flags a step that today's code takes where the recorded code was waiting", () => {
    const v2 = orchestration('approve', function* (ctx, id: string) {
      const checked = yield ctx.callActivity('check', id);
      yield ctx.callActivity('notify', id); // new step, inserted before the wait
      const ok = yield ctx.waitForExternalEvent('Approval');
      return { checked, ok };
    });
    const e = nondeterminism(() => replayHistory(v2, record(v1, approvedRun.slice(0, 2))));
    expect(e.details).toMatchObject({ step: 2, actual: "callActivity('notify')" });
    expect(e.message).toContain('the history ends here');
  });

  it("flags a recorded step that today's code no longer takes, and a changed activity name", () => {
    const shorter = orchestration('helloSequence', function* (ctx) {
      return [yield ctx.callActivity('sayHello', 'Tokyo')];
    });
    const e = nondeterminism(() => replayHistory(shorter, fixture('hello-sequence.json').history));
    expect(e.details).toMatchObject({ step: 2, expected: "callActivity('sayhello')", actual: 'nothing (it had already returned)' });
    const renamed = orchestration('helloSequence', function* (ctx) {
      const out: string[] = [];
      for (const city of ['Tokyo', 'Seattle', 'London']) out.push(yield ctx.callActivity('greet', city));
      return out;
    });
    expect(nondeterminism(() => replayHistory(renamed, fixture('hello-sequence.json').history)).details).toMatchObject({
      step: 1,
      expected: "callActivity('sayhello')",
      actual: "callActivity('greet')",
    });
  });

  it("flags a recorded completion that today's code no longer waits for", () => {
    const racer = orchestration('racer', function* (ctx) {
      const t = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
      const e = ctx.waitForExternalEvent('go');
      const w = yield ctx.any([t, e]);
      return w === t ? 'late' : 'go';
    });
    const history = record(racer, [h.started('racer'), h.timerFired(1, at(60))]);
    const impatient = orchestration('racer', function* (ctx) {
      const t = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
      t.cancel();
      return 'cancelled';
    });
    const e = nondeterminism(() => replayHistory(impatient, history));
    expect(e.message).toMatch(/TimerFired \(timer 1\)|createTimer/);
  });

  it('rejects what is not a history of this orchestration with validation', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as DurableError).code;
      }
      return 'none';
    };
    expect(code(() => replayHistory(v1, []))).toBe('validation');
    expect(code(() => replayHistory(v1, {}))).toBe('validation');
    expect(code(() => replayHistory(v1, [{ foo: 1 }]))).toBe('validation');
    expect(code(() => replayHistory(v1, [h.taskCompleted(1, 'x')]))).toBe('validation');
    expect(code(() => replayHistory(helloSequence, record(v1, approvedRun)))).toBe('validation');
  });

  it('matches names case-insensitively, as the engine does', () => {
    const upper = orchestration('APPROVE', v1.fn);
    expect(replayHistory(upper, record(v1, approvedRun)).runtimeStatus).toBe('Completed');
  });
});
