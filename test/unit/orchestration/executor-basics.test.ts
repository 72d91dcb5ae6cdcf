import { describe, expect, it } from 'vitest';
import type { DurableError } from '../../../src/core/errors.js';
import { orchestration } from '../../../src/orchestration/definition.js';
import { OrchestrationExecutor } from '../../../src/orchestration/executor.js';
import { at, h } from '../../../src/orchestration/history-builders.js';
import { helloSequence, run } from './fixtures.js';

describe('hello chain', () => {
  it('schedules the first activity on start', () => {
    const r = run(helloSequence, [], [h.started('helloSequence', null)]);
    expect(r.events).toEqual([h.taskScheduled(1, 'sayhello', 'Tokyo')]);
    expect(r.actions).toEqual([{ type: 'scheduleActivity', taskId: 1, name: 'sayhello', input: 'Tokyo', attempt: 1 }]);
    expect(r.ex.state.status).toBe('Running');
  });

  it('replays history and continues with the next step only', () => {
    const history = [h.started('helloSequence', null), h.taskScheduled(1, 'sayhello', 'Tokyo'), h.taskCompleted(1, 'Hello Tokyo!'), h.taskScheduled(2, 'sayhello', 'Seattle')];
    const r = run(helloSequence, history, [h.taskCompleted(2, 'Hello Seattle!')]);
    expect(r.events).toEqual([h.taskScheduled(3, 'sayhello', 'London')]);
  });

  it('completes with all results', () => {
    const history = [
      h.started('helloSequence', null),
      h.taskScheduled(1, 'sayhello', 'Tokyo'),
      h.taskCompleted(1, 'Hello Tokyo!'),
      h.taskScheduled(2, 'sayhello', 'Seattle'),
      h.taskCompleted(2, 'Hello Seattle!'),
      h.taskScheduled(3, 'sayhello', 'London'),
    ];
    const r = run(helloSequence, history, [h.taskCompleted(3, 'Hello London!', at(3))]);
    const output = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];
    expect(r.events).toEqual([h.completed(output, at(3))]);
    expect(r.actions).toEqual([]);
    expect(r.ex.state).toMatchObject({ status: 'Completed', output });
  });

  it('ignores a duplicate completion and one for an unknown task', () => {
    const history = [h.started('helloSequence', null), h.taskScheduled(1, 'sayhello', 'Tokyo'), h.taskCompleted(1, 'Hello Tokyo!'), h.taskScheduled(2, 'sayhello', 'Seattle')];
    const dup = h.taskCompleted(1, 'Hello again');
    const unknown = h.taskCompleted(9, 'x');
    const r = run(helloSequence, history, [dup, unknown]);
    expect(r.ignored).toEqual([dup, unknown]);
    expect(r.events).toEqual([]);
  });

  it('throws a task failure into the generator as operation-failed (catchable)', () => {
    const def = orchestration('catcher', function* (ctx) {
      try {
        yield ctx.callActivity('boom');
      } catch (e) {
        return { code: (e as DurableError).code, message: (e as Error).message, details: (e as DurableError).details };
      }
    });
    const r = run(def, [h.started('catcher'), h.taskScheduled(1, 'boom')], [h.taskFailed(1, 'kaput', 'RangeError')]);
    expect(r.ex.state.output).toEqual({ code: 'operation-failed', message: 'kaput', details: { errorType: 'RangeError' } });
  });

  it('fails the run on an uncaught error with message, errorType and stack', () => {
    const def = orchestration('thrower', function* (ctx) {
      yield ctx.callActivity('a');
      throw new RangeError('bad range');
    });
    const r = run(def, [h.started('thrower'), h.taskScheduled(1, 'a')], [h.taskCompleted(1)]);
    expect(r.ex.state.status).toBe('Failed');
    expect(r.ex.state.failure).toMatchObject({ message: 'bad range', errorType: 'RangeError' });
    expect(r.ex.state.failure?.stack).toContain('bad range');
    expect(r.events[0]).toMatchObject({ type: 'ExecutionCompleted', status: 'Failed' });
  });

  it('fails with the activity message when an activity failure is not caught', () => {
    const r = run(helloSequence, [h.started('helloSequence'), h.taskScheduled(1, 'sayhello', 'Tokyo')], [h.taskFailed(1, 'no greeting today')]);
    expect(r.ex.state.failure).toMatchObject({ message: 'no greeting today', code: 'operation-failed' });
  });

  it('supports typed yield* and plain (non-generator) bodies', () => {
    const def = orchestration('typed', function* (ctx) {
      const s = yield* ctx.callActivity<string>('a');
      return s.toUpperCase();
    });
    expect(run(def, [h.started('typed'), h.taskScheduled(1, 'a')], [h.taskCompleted(1, 'x')]).ex.state.output).toBe('X');
  });

  it('rejects yielding something that is not a task, into the generator', () => {
    const def = orchestration('badyield', function* () {
      yield 42;
      return 'unreachable';
    });
    const r = run(def, [], [h.started('badyield')]);
    expect(r.ex.state.status).toBe('Failed');
    expect(r.ex.state.failure?.message).toMatch(/yield tasks/);
  });
});

describe('incremental apply', () => {
  it('keeps the generator alive between apply calls (invoked once)', () => {
    let invocations = 0;
    const def = orchestration('counted', function* (ctx) {
      invocations++;
      const results: number[] = [];
      for (let i = 0; i < 5; i++) results.push(yield ctx.callActivity('inc', i));
      return results;
    });
    const ex = new OrchestrationExecutor(def, 'i1');
    ex.apply([h.started('counted')], false);
    for (let i = 1; i <= 5; i++) {
      const { events } = ex.takeNew();
      expect(events[0]).toMatchObject({ type: 'TaskScheduled', taskId: i });
      ex.apply([h.taskCompleted(i, i * 10)], false);
    }
    expect(ex.state).toMatchObject({ status: 'Completed', output: [10, 20, 30, 40, 50] });
    expect(invocations).toBe(1);
  });
});

describe('context', () => {
  it('currentUtcDateTime follows history; newGuid is deterministic; log is silent while replaying', () => {
    const seen: unknown[] = [];
    const logged: string[] = [];
    const def = orchestration('clock', function* (ctx) {
      seen.push(ctx.currentUtcDateTime.toISOString(), ctx.newGuid(), ctx.isReplaying);
      ctx.log.info('first');
      yield ctx.callActivity('a');
      seen.push(ctx.currentUtcDateTime.toISOString(), ctx.isReplaying);
      ctx.log.info('second');
      return ctx.newGuid();
    });
    const logger = {
      debug() {},
      info: (_: object, m?: string) => {
        logged.push(m!);
      },
      warn() {},
      error() {},
    };
    const ex = new OrchestrationExecutor(def, 'i1', { logger });
    ex.apply([h.started('clock', null, { at: at(1) }), h.taskScheduled(1, 'a', undefined, 1, at(1))], true);
    ex.apply([h.taskCompleted(1, null, at(7))], false);
    const [, guid1] = seen as string[];
    expect(seen).toEqual([at(1), guid1, true, at(7), false]);
    expect(guid1).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(logged).toEqual(['second']);
    const again = new OrchestrationExecutor(def, 'i1');
    seen.length = 0;
    again.apply([h.started('clock', null, { at: at(1) })], true);
    expect(seen[1]).toBe(guid1);
    expect(ex.state.output).not.toBe(guid1);
  });
});
