/** Compile-time checks of the public typing (tsc runs over test/), plus a smoke run. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { activity, orchestration, type Task } from '../../../src/orchestration/index.js';
import { h } from '../../../src/orchestration/history-builders.js';
import { run } from './fixtures.js';

const double = activity('double', async (n: number) => n * 2);
const child = orchestration('child', function* (_ctx, n: number) {
  return String(n);
});

const typed = orchestration('typed', function* (ctx, input: { n: number }) {
  const d = yield* ctx.callActivity(double, input.n);
  expectTypeOf(d).toEqualTypeOf<number>();
  const s = yield* ctx.callSubOrchestrator(child, d);
  expectTypeOf(s).toEqualTypeOf<string>();
  const [a, b] = yield* ctx.all([ctx.callActivity(double, 1), ctx.callSubOrchestrator(child, 2)] as const);
  expectTypeOf(a).toEqualTypeOf<number>();
  expectTypeOf(b).toEqualTypeOf<string>();
  const winner = yield* ctx.any([ctx.createTimer(new Date(0)), ctx.waitForExternalEvent('x')]);
  expectTypeOf(winner).toMatchTypeOf<Task<unknown>>();
  const untyped = yield ctx.callActivity('anything');
  return { d, s, a, b, untyped };
});

describe('typing', () => {
  it('typed yield* orchestration runs', () => {
    const r = run(typed, [h.started('typed', { n: 2 }), h.taskScheduled(1, 'double', 2)], [h.taskCompleted(1, 4)]);
    expect(r.events).toEqual([h.subCreated(2, 'child', 'i1:2', 4)]);
  });
});
