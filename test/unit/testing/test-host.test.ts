/**
 * TestHost: the real worker and client on the memory fabric and a virtual clock. Each feature of
 * the kit (shared/API.md "Testing without a server") against the engine's behaviour: mocks,
 * advancing and skipping time, idle, restart (replay from the stored history), bad use, and the
 * recorded history replayed by replayHistory.
 */
import * as net from 'node:net';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DurableError, EntityId, activity, entity, orchestration } from '../../../src/index.js';
import { replayHistory, TestHost } from '../../../src/testing/index.js';

const counter = entity('counter', {
  state: () => 0,
  operations: {
    add: (s: number, n: number, ctx) => ctx.setState(s + n),
    get: (s) => s,
    fail: () => {
      throw new Error('no');
    },
  },
});

let fetchCalls = 0;
const fetchPrice = activity('fetchPrice', async (sku: string) => {
  fetchCalls++;
  return { sku, price: 100 };
});
const notify = activity('notify', async (msg: string) => `sent ${msg}`);

/** Polls a price once a day for `days` days, then reports the last one. */
const weeklyWatch = orchestration('weeklyWatch', function* (ctx, input: { sku: string; days: number }) {
  let last: unknown;
  for (let day = 0; day < input.days; day++) {
    last = yield ctx.callActivity('fetchPrice', input.sku);
    ctx.setCustomStatus({ day });
    yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 86_400_000));
  }
  return { last, at: ctx.currentUtcDateTime.toISOString() };
});

/** Waits for approval for a week, else escalates. */
const approval = orchestration('approval', function* (ctx) {
  const timeout = ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 7 * 86_400_000));
  const answer = ctx.waitForExternalEvent('Approval');
  const winner = yield ctx.any([answer, timeout]);
  if (winner === answer) {
    timeout.cancel();
    return { approved: answer.result };
  }
  return { escalated: yield ctx.callActivity('notify', 'boss') };
});

const guids = orchestration('guids', function* (ctx) {
  const a = ctx.newGuid();
  const v = yield ctx.waitForExternalEvent('go');
  return [a, ctx.newGuid(), v];
});

const withRetry = orchestration('withRetry', function* (ctx) {
  return yield ctx.callActivity('notify', 'x', { retry: { maxAttempts: 4, firstRetryIntervalMs: 60_000, backoffCoefficient: 2 } });
});

const everyMinute = orchestration('everyMinute', function* (ctx, n: number) {
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60_000));
  if (n < 1_000) ctx.continueAsNew(n + 1);
  return n;
});

/** Reads state outside its history (as code reading Date.now() or a config file would). */
let outsideFlag = false;
const fickle = orchestration('fickle', function* (ctx) {
  if (outsideFlag) yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1_000));
  else yield ctx.callActivity('notify', 'first');
  return yield ctx.waitForExternalEvent('go');
});

const defs = { entities: [counter], orchestrations: [weeklyWatch, approval, guids, withRetry, everyMinute, fickle], activities: [fetchPrice, notify] };
const START = new Date('2030-01-01T00:00:00Z');

let host: TestHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

// No socket may be opened by the kit: every connect attempt in this file fails loudly.
beforeAll(() => {
  const refuse = () => {
    throw new Error('the test kit opened a socket');
  };
  vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(refuse as never);
});

describe('signal batching (client) on the real engine', () => {
  it('signals to many entities of a partition issued together share messages; each entity gets exactly its own', async () => {
    const host = await TestHost.start({ entities: [counter] });
    try {
      const keys = Array.from({ length: 40 }, (_, i) => new EntityId('counter', `spread-${i}`));
      // 15 signals per entity, interleaved across entities as a busy producer sends them.
      await Promise.all(Array.from({ length: 600 }, (_, i) => host.client.signalEntity(keys[i % keys.length]!, 'add', (i % 3) + 1)));
      const values = await Promise.all(keys.map((k) => host.client.callEntity<number>(k, 'get')));
      expect(values).toEqual(keys.map((_, k) => Array.from({ length: 15 }, (_, j) => ((k + j * 40) % 3) + 1).reduce((a, b) => a + b, 0)));
      const inbox = await host.client.hub.fabric.streamInfo(host.client.hub.names.inboxStream);
      // 600 signals over 16 partitions (at most 256 per message) plus 40 calls.
      expect(inbox.lastSeq).toBeLessThanOrEqual(40 + 16 * 3);
    } finally {
      await host.stop();
    }
  });

  it('signals to one entity issued together are stored as few messages, all applied once; a call right after observes them', async () => {
    const host = await TestHost.start({ entities: [counter] });
    try {
      const id = new EntityId('counter', 'batched');
      const other = new EntityId('counter', 'other');
      const sent = [...Array.from({ length: 600 }, () => host.client.signalEntity(id, 'add', 1)), host.client.signalEntity(other, 'add', 5)];
      // Not awaited: the call (callRaw publishes without yielding first) is published after the
      // signals still batched, so it sees them all.
      const value = await host.client.callRaw<number>(id, { op: 'get', k: 'c' }, 10_000);
      expect(value).toBe(600);
      await Promise.all(sent);
      expect(await host.client.callEntity<number>(other, 'get')).toBe(5);
      const inbox = await host.client.hub.fabric.streamInfo(host.client.hub.names.inboxStream);
      // 600 + 1 signals and 2 calls: the signals went as batches of at most 256.
      expect(inbox.lastSeq).toBeLessThanOrEqual(6);
      // A signal that cannot be sent alone (a key) still works between batches.
      await host.client.signalEntity(id, 'add', 1, { idempotencyKey: 'k1' });
      await host.client.signalEntity(id, 'add', 1, { idempotencyKey: 'k1' });
      expect(await host.client.callEntity<number>(id, 'get')).toBe(601);
    } finally {
      await host.stop();
    }
  });
});

describe('TestHost', () => {
  it('runs entities with the engine semantics: FIFO signals, calls, operation errors, validation', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const id = new EntityId('counter', 'a');
    for (let i = 1; i <= 10; i++) await host.client.signalEntity(id, 'add', i);
    expect(await host.client.callEntity(id, 'get')).toBe(55);
    await expect(host.client.callEntity(id, 'fail')).rejects.toMatchObject({ code: 'operation-failed' });
    await expect(host.client.signalEntity(id, 'nope')).rejects.toMatchObject({ code: 'validation' });
    expect((await host.client.readEntityState(id)).state).toBe(55);
  });

  it('mocks an activity; a mock of an activity no definition names is a validation error', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    host.mockActivity('fetchPrice', async (sku: string) => ({ sku, price: 42 }));
    const before = fetchCalls;
    const id = await host.client.startNew('weeklyWatch', { input: { sku: 'x', days: 1 } });
    const s = await host.client.waitForCompletion(id, { timeoutMs: 2 * 86_400_000 });
    expect(s.output).toMatchObject({ last: { sku: 'x', price: 42 } });
    expect(fetchCalls).toBe(before);
    expect(() => host!.mockActivity('fetchPrise', async () => 1)).toThrow(/no activity of that name.*fetchprice/);
  });

  it('skips a week of virtual time in waitForCompletion, in well under a second', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const t0 = performance.now();
    const id = await host.client.startNew('weeklyWatch', { input: { sku: 'y', days: 7 } });
    const s = await host.client.waitForCompletion(id, { timeoutMs: 30 * 86_400_000 });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toMatchObject({ at: '2030-01-08T00:00:00.000Z' });
    expect(host.now().toISOString()).toBe('2030-01-08T00:00:00.000Z');
  });

  it('advanceTime fires due timers in order and stops at the target; the timer wins the race', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const early = await host.client.startNew('approval');
    const late = await host.client.startNew('approval');
    await host.advanceTime(6 * 86_400_000);
    await host.client.raiseEvent(early, 'Approval', 'yes');
    await host.idle();
    expect((await host.client.getStatus(early))?.output).toEqual({ approved: 'yes' });
    expect((await host.client.getStatus(late))?.runtimeStatus).toBe('Running');
    await host.advanceTime(86_400_000);
    expect((await host.client.getStatus(late))?.output).toEqual({ escalated: 'sent boss' });
    expect(host.now().toISOString()).toBe('2030-01-08T00:00:00.000Z');
  });

  it('retries an activity with backoff on the virtual clock', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const attempts: number[] = [];
    host.mockActivity('notify', async (_m: string, ctx) => {
      attempts.push(host!.now().getTime() - START.getTime());
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt}`);
      return 'ok';
    });
    const id = await host.client.startNew('withRetry');
    const s = await host.client.waitForCompletion(id, { timeoutMs: 86_400_000 });
    expect(s.output).toBe('ok');
    expect(attempts).toEqual([0, 60_000, 180_000]); // 1 min, then 2 min later
  });

  it('continueAsNew a thousand times over 16 virtual hours stays fast', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const t0 = performance.now();
    const id = await host.client.startNew('everyMinute', { input: 1 });
    const s = await host.client.waitForCompletion(id, { timeoutMs: 86_400_000 });
    expect(s.output).toBe(1_000);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it('restart drops live generators: the instance replays from its history, deterministically', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const id = await host.client.startNew('guids');
    await host.idle();
    await host.restart();
    await host.client.raiseEvent(id, 'go', 7);
    const s = await host.client.waitForCompletion(id, { timeoutMs: 60_000 });
    const [a, b, v] = s.output as [string, string, number];
    expect(v).toBe(7);
    expect(a).not.toBe(b);
    // The same code replayed over the recorded history reaches the same end: the safe-deploy check.
    const full = await host.client.getStatus(id, { showHistory: true });
    expect(replayHistory(guids, full!).output).toEqual(s.output);
    expect(() => replayHistory(approval, full!)).toThrow(DurableError);
  });

  it('restart catches code that is not deterministic: the replay fails the instance with nondeterminism', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    outsideFlag = false;
    const id = await host.client.startNew('fickle');
    await host.idle();
    outsideFlag = true; // what the code reads outside its history changed: a replay takes another step
    try {
      await host.client.raiseEvent(id, 'go', 1);
      await host.idle();
      // Without a restart the live generator goes on: nothing is replayed, nothing is caught.
      expect((await host.client.getStatus(id))?.runtimeStatus).toBe('Completed');
      outsideFlag = false;
      const again = await host.client.startNew('fickle');
      await host.idle();
      outsideFlag = true;
      await host.restart();
      await host.client.raiseEvent(again, 'go', 2);
      const s = await host.client.waitForCompletion(again, { timeoutMs: 60_000 });
      expect(s.runtimeStatus).toBe('Failed');
      expect(s.failureDetails?.message).toMatch(/callActivity\('notify'\)/);
      expect(s.failureDetails?.message).toMatch(/createTimer/);
    } finally {
      outsideFlag = false;
    }
  });

  it('a wait that nothing can end says so; waitForCompletion times out in virtual time', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const id = await host.client.startNew('guids');
    await expect(host.client.waitForCompletion(id, { timeoutMs: 3_600_000 })).rejects.toMatchObject({ code: 'timeout' });
    expect(host.now().getTime() - START.getTime()).toBe(3_600_000);
  });

  it('bad use: time backwards, calls after stop', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    await expect(host.advanceTime(-1)).rejects.toMatchObject({ code: 'validation' });
    await expect(host.advanceTime(Number.NaN)).rejects.toMatchObject({ code: 'validation' });
    const stopped = host;
    await stopped.stop();
    host = undefined;
    expect(() => stopped.client.getStatus('x')).toThrow(/stopped/);
    expect(() => stopped.now()).toThrow(/stopped/);
    await expect(stopped.advanceTime(1)).rejects.toMatchObject({ code: 'validation' });
  });

  it('delayed signals and schedules follow the virtual clock', async () => {
    host = await TestHost.start({ ...defs, startTime: START });
    const id = new EntityId('counter', 'sched');
    await host.client.signalEntity(id, 'add', 5, { at: new Date(START.getTime() + 3_600_000) });
    await host.client.createSchedule('tick', { every: 600_000, action: { signalEntity: { id: id.toString(), op: 'add', input: 1 } } });
    await host.advanceTime(3_600_000 - 1);
    const before = (await host.client.readEntityState<number>(id)).state ?? 0;
    expect(before).toBeGreaterThanOrEqual(5);
    expect(before).toBeLessThanOrEqual(6);
    await host.advanceTime(1);
    await host.advanceTime(3_600_000);
    const after = (await host.client.readEntityState<number>(id)).state!;
    expect(after - 5).toBeGreaterThanOrEqual(12);
    expect(after - 5).toBeLessThanOrEqual(13);
  });
});
