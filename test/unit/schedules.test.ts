/** Schedules without a server: tick arithmetic (croner) and the schedule entity run through the pure executor on a fake clock. */
import { describe, expect, it } from 'vitest';
import { EntityId } from '../../src/core/entity-id.js';
import { appendOperation, executeEntityBatch, newSnapshot, recordOperation, type EntitySnapshot, type RecordedOperation } from '../../src/entity/executor.js';
import type { EntityMessage } from '../../src/entity/messages.js';
import { parseScheduleOptions } from '../../src/schedule/definition.js';
import { latestDue, nextTick, nextTicks } from '../../src/schedule/next-ticks.js';
import { scheduleEntity, type ScheduleEntityState } from '../../src/worker/schedule-entity.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const MIN = 60_000;

describe('schedule definitions', () => {
  it('accepts 5-field cron with a timezone or every, rejects the rest with validation', () => {
    expect(parseScheduleOptions({ cron: '0 2 * * *', timezone: 'Europe/Paris', action: { startNew: { name: 'r' } } }).def.overlap).toBe('skip');
    expect(parseScheduleOptions({ every: 1000, action: { signalEntity: { id: '@c@x', op: 'add', input: 1 } } }).def.every).toBe(1000);
    const bad = [
      { cron: '* * * * * *', action: { startNew: { name: 'r' } } }, // 6 fields
      { cron: '61 * * * *', action: { startNew: { name: 'r' } } },
      { cron: '0 2 * * *', timezone: 'Mars/Olympus', action: { startNew: { name: 'r' } } },
      { action: { startNew: { name: 'r' } } }, // neither
      { cron: '* * * * *', every: 5, action: { startNew: { name: 'r' } } }, // both
      { every: 1000, action: {} },
    ];
    for (const b of bad) expect(() => parseScheduleOptions(b)).toThrowError(expect.objectContaining({ code: 'validation' }));
  });

  it('computes cron ticks in a timezone across a DST change, and every-ticks from the anchor', () => {
    const { def } = parseScheduleOptions({ cron: '0 2 * * *', timezone: 'Europe/Paris', action: { startNew: { name: 'r' } } });
    const ticks = nextTicks(def, Date.parse('2030-03-29T00:00:00Z'), 3).map((t) => new Date(t).toISOString());
    // 02:00 Paris is 01:00Z in winter; on 2030-03-31 02:00 does not exist (clocks jump to 03:00).
    expect(ticks[0]).toBe('2030-03-29T01:00:00.000Z');
    expect(ticks[1]).toBe('2030-03-30T01:00:00.000Z');
    const every = parseScheduleOptions({ every: 10 * MIN, action: { startNew: { name: 'r' } } }).def;
    expect(nextTick(every, T0)).toBe(T0 + 10 * MIN);
    expect(nextTick(every, T0 + 25 * MIN)).toBe(T0 + 30 * MIN);
  });

  it('a late timer fires only the latest due tick, never a burst; endAt bounds it', () => {
    const cron = parseScheduleOptions({ cron: '*/5 * * * *', action: { startNew: { name: 'r' } } }).def;
    expect(latestDue(cron, T0 + 5 * MIN, T0 + 5 * MIN + 10)).toBe(T0 + 5 * MIN);
    expect(latestDue(cron, T0 + 5 * MIN, T0 + 3 * 60 * MIN + 7)).toBe(T0 + 180 * MIN);
    const every = parseScheduleOptions({ every: MIN, startAt: new Date(T0), endAt: new Date(T0 + 10 * MIN), action: { startNew: { name: 'r' } } }).def;
    expect(latestDue(every, T0 + MIN, T0 + 100 * MIN)).toBe(T0 + 10 * MIN);
    expect(nextTick(every, T0 + 10 * MIN)).toBeUndefined();
  });
});

describe('schedule entity (pure executor, fake clock)', () => {
  const id = new EntityId('dn-schedule', 'nightly');
  let seq = 0;
  const statuses = new Map<string, string>();
  const def = scheduleEntity({ runtimeStatus: async (i) => statuses.get(i) });
  const step = async (snap: EntitySnapshot<ScheduleEntityState>, now: number, body: EntityMessage) =>
    executeEntityBatch(def, id, snap, [{ seq: ++seq, body }], (s, n) => `i-${s}-${n}`, { now });

  it('create arms the first tick; a tick records itself, starts <id>@<ISO> and arms the next; stale ticks do nothing', async () => {
    const { def: d } = parseScheduleOptions({ every: MIN, action: { startNew: { name: 'report', input: 1 } } });
    let r = await step(newSnapshot(def), T0, { op: 'create', input: { def: d, paused: false } });
    expect(r.snapshot.state.s?.nextTick).toBe(T0 + MIN);
    expect(r.effects).toEqual([{ seq, effect: expect.objectContaining({ kind: 'signal', delayUntil: T0 + MIN, body: { op: 'tick', input: { tick: T0 + MIN } } }) }]);

    r = await step(r.snapshot, T0 + MIN + 3, { op: 'tick', input: { tick: T0 + MIN } });
    const started = r.effects.find((e) => e.effect.kind === 'start')!.effect;
    expect(started).toMatchObject({ kind: 'start', name: 'report', instanceId: 'nightly@2030-01-01T00:01:00.000Z', input: 1 });
    expect(r.snapshot.state.s?.nextTick).toBe(T0 + 2 * MIN);

    // A duplicate of the same tick (second timer, redelivery under another seq): nothing.
    const dup = await step(r.snapshot, T0 + MIN + 5, { op: 'tick', input: { tick: T0 + MIN } });
    expect(dup.effects).toEqual([]);

    // The worker was down for 10 minutes: one run, for the latest tick.
    statuses.set('nightly@2030-01-01T00:01:00.000Z', 'Completed');
    const late = await step(r.snapshot, T0 + 12 * MIN + 30_000, { op: 'tick', input: { tick: T0 + 2 * MIN } });
    const starts = late.effects.filter((e) => e.effect.kind === 'start');
    expect(starts).toHaveLength(1);
    expect(starts[0]!.effect).toMatchObject({ instanceId: 'nightly@2030-01-01T00:12:00.000Z' });
    expect(late.snapshot.state.s?.nextTick).toBe(T0 + 13 * MIN);
  });

  it("overlap 'skip' skips while the last run is not terminal; pause ignores ticks, resume re-arms", async () => {
    const { def: d } = parseScheduleOptions({ every: MIN, action: { startNew: { name: 'report' } } });
    const sid = new EntityId('dn-schedule', 'skip');
    const stepS = async (snap: EntitySnapshot<ScheduleEntityState>, now: number, body: EntityMessage) =>
      executeEntityBatch(def, sid, snap, [{ seq: ++seq, body }], (s, n) => `i-${s}-${n}`, { now });
    let r = await stepS(newSnapshot(def), T0, { op: 'create', input: { def: d, paused: false } });
    r = await stepS(r.snapshot, T0 + MIN, { op: 'tick', input: { tick: T0 + MIN } });
    statuses.set('skip@2030-01-01T00:01:00.000Z', 'Running');
    r = await stepS(r.snapshot, T0 + 2 * MIN, { op: 'tick', input: { tick: T0 + 2 * MIN } });
    expect(r.effects.filter((e) => e.effect.kind === 'start')).toEqual([]);
    expect(r.snapshot.state.s?.lastSkipped).toBe(T0 + 2 * MIN);
    expect(r.snapshot.state.s?.lastRun?.instanceId).toBe('skip@2030-01-01T00:01:00.000Z');

    r = await stepS(r.snapshot, T0 + 2 * MIN + 1, { op: 'pause' });
    const whilePaused = await stepS(r.snapshot, T0 + 3 * MIN, { op: 'tick', input: { tick: T0 + 3 * MIN } });
    expect(whilePaused.effects).toEqual([]);
    r = await stepS(whilePaused.snapshot, T0 + 7 * MIN + 10, { op: 'resume' });
    expect(r.snapshot.state.s?.nextTick).toBe(T0 + 8 * MIN);
  });

  it('a schedule created paused arms nothing until resumed; startAt bounds the first tick', async () => {
    const { def: d, paused } = parseScheduleOptions({ every: MIN, paused: true, startAt: new Date(T0 + 60 * MIN), action: { startNew: { name: 'report' } } });
    const sid = new EntityId('dn-schedule', 'paused');
    let r = await executeEntityBatch(def, sid, newSnapshot(def), [{ seq: ++seq, body: { op: 'create', input: { def: d, paused } } }], () => 'x', { now: T0 });
    expect(r.effects).toEqual([]);
    expect(r.snapshot.state.s?.nextTick).toBeUndefined();
    r = await executeEntityBatch(def, sid, r.snapshot, [{ seq: ++seq, body: { op: 'resume' } }], () => 'x', { now: T0 + 5 * MIN });
    expect(r.snapshot.state.s?.nextTick).toBe(T0 + 60 * MIN);
    expect(r.effects).toHaveLength(1);
  });

  it('records operations compactly, inputs over the cap by size only', () => {
    expect(recordOperation('add', 1)).toEqual(['add', 1]);
    expect(recordOperation('reset', undefined)).toEqual(['reset']);
    expect(recordOperation('put', 'x'.repeat(1000))).toEqual(['put', 0, 1002]);
    const list: RecordedOperation[] = [];
    for (const [op, input] of [
      ['add', 1],
      ['add', 1],
      ['add', 1],
      ['add', 2],
      ['reset', undefined],
      ['reset', undefined],
      ['put', 'x'.repeat(300)],
      ['put', 'x'.repeat(300)],
    ] as const) {
      appendOperation(list, recordOperation(op, input));
    }
    expect(list).toEqual([
      [3, 'add', 1],
      ['add', 2],
      [2, 'reset'],
      ['put', 0, 302],
      ['put', 0, 302],
    ]);
  });
});
