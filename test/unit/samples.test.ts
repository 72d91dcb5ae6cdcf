/**
 * The samples (entities/ and orchestrations/) on the test kit: their logic, run by the real engine
 * on the in-memory fabric and a virtual clock, milliseconds per test. What depends on the fabric
 * itself (raw NATS producers, dedupe windows, crash recovery, listing under load, cross-process
 * behaviour) stays in test/integration on a real nats-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntityId, activity, entity, orchestration } from '../../src/index.js';
import { TestHost } from '../../src/testing/index.js';
import { activities, entities, orchestrations } from '../../orchestrations/index.js';
import { expectedTotalBytes } from '../../orchestrations/fan-out-fan-in.js';

const START = new Date('2030-01-01T00:00:00Z');
const DAY = 86_400_000;

const flaky = activity('flaky', async (input: { failTimes: number }, ctx) => {
  if (ctx.attempt <= input.failTimes) throw new Error(`attempt ${ctx.attempt} failed`);
  return `ok after ${ctx.attempt}`;
});
const boom = activity('boom', async () => {
  throw new TypeError('kaboom');
});
const withRetry = orchestration('withRetry', function* (ctx, input: { failTimes: number }) {
  return yield ctx.callActivity('flaky', input, { retry: { maxAttempts: 3, firstRetryIntervalMs: 50, backoffCoefficient: 2 } });
});
const failing = orchestration('failing', function* (ctx) {
  try {
    yield ctx.callActivity('boom');
  } catch (e) {
    ctx.setCustomStatus({ caught: (e as Error).message });
  }
  yield ctx.callActivity('boom');
});
const parent = orchestration('parent', function* (ctx) {
  const a = yield ctx.callSubOrchestrator('helloSequence');
  const b = yield ctx.callSubOrchestrator('helloSequence', undefined, { instanceId: `${ctx.instanceId}-child` });
  return [a, b];
});
const waiter = orchestration('waiter', function* (ctx) {
  const v = yield ctx.waitForExternalEvent('go');
  ctx.setCustomStatus('got it');
  return v;
});
const attemptsByKey = new Map<string, number>();
const failOnce = activity('failOnce', async (key: string) => {
  const n = (attemptsByKey.get(key) ?? 0) + 1;
  attemptsByKey.set(key, n);
  if (n === 1) throw new Error(`first attempt of ${key} fails`);
  return `${key} ok on attempt ${n}`;
});
const rewindable = orchestration('rewindable', function* (ctx) {
  const a = yield ctx.callActivity('sayHello', 'before');
  const b = yield ctx.callActivity('failOnce', ctx.instanceId);
  return [a, b];
});
const starter = entity('starter', {
  state: () => ({ started: [] as string[] }),
  operations: {
    kickOff: (s, _i, ctx) => {
      s.started.push(ctx.startNew('helloSequence', { instanceId: `from-entity-${ctx.id.key}` }));
    },
    later: (_s, target: string, ctx) => {
      ctx.signalEntity(target, 'add', 3, { delayMs: 300_000 });
    },
  },
});

let host: TestHost;
beforeAll(async () => {
  host = await TestHost.start({
    entities: [...entities, starter],
    orchestrations: [...orchestrations, withRetry, failing, parent, waiter, rewindable],
    activities: [...activities, flaky, boom, failOnce],
    startTime: START,
    partitions: 4, // messages between partitions (entity locks, sub-orchestrations) as on a hub
  });
});
afterAll(async () => {
  await host?.stop();
});

const run = async (name: string, input?: unknown, instanceId?: string) => {
  const id = await host.client.startNew(name, { ...(input === undefined ? {} : { input }), ...(instanceId ? { instanceId } : {}) });
  return host.client.waitForCompletion(id, { timeoutMs: 365 * DAY });
};

describe('orchestration samples', () => {
  it('function chaining', async () => {
    const s = await run('helloSequence');
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('fan-out/fan-in over 200 activities', async () => {
    const s = await run('fanOutFanIn', { count: 200 });
    expect(s.output).toEqual({ files: 200, totalBytes: expectedTotalBytes(200) });
  });

  it('async HTTP API job reports progress in customStatus', async () => {
    const s = await run('longJob', { chunks: 4, delayMs: 1 });
    expect(s.output).toEqual({ total: 60 });
    expect(s.customStatus).toEqual({ done: 4, of: 4 });
  });

  it('monitor: polls daily for a month until the job is ready, with continueAsNew', async () => {
    const readyAt = START.getTime() + 20 * DAY;
    // The sample's check reads the wall clock; in the kit the job is "ready" by the virtual clock.
    host.mockActivity('checkJobStatus', async () => (host.now().getTime() >= readyAt ? 'ready' : 'pending'));
    const t0 = performance.now();
    const s = await run('monitorJob', { jobId: 'j1', readyAt, pollMs: DAY, expiresAt: new Date(START.getTime() + 30 * DAY).toISOString() });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(s.output).toMatchObject({ jobId: 'j1', outcome: 'ready', alert: 'alerted: job j1 is ready' });
    expect((s.output as { polls: number }).polls).toBeGreaterThanOrEqual(20);
    expect((await host.client.readHistory(s.instanceId)).length).toBeLessThan(12); // continueAsNew truncated it
  });

  it('monitor: expires after 30 days', async () => {
    host.mockActivity('checkJobStatus', async () => 'pending');
    const expiresAt = new Date(host.now().getTime() + 30 * DAY);
    const t0 = performance.now();
    const s = await run('monitorJob', { jobId: 'j2', readyAt: 0, pollMs: 3 * 3_600_000, expiresAt: expiresAt.toISOString() });
    expect(s.output).toMatchObject({ outcome: 'expired', polls: 241 }); // every 3 hours for 30 days
    expect(performance.now() - t0).toBeLessThan(5_000); // ~1 s on a loaded 2-core machine
    expect(host.now().getTime()).toBeGreaterThanOrEqual(expiresAt.getTime());
  });

  it('human interaction: approval arrives first', async () => {
    const id = await host.client.startNew('approvalWorkflow', { input: { requestId: 'r1' } });
    await host.advanceTime(3_600_000);
    expect((await host.client.getStatus(id))?.customStatus).toBe('waiting for approval');
    await host.client.raiseEvent(id, 'Approval', { approved: true, by: 'alice' });
    const s = await host.client.waitForCompletion(id, { timeoutMs: DAY });
    expect(s.output).toEqual({ requestId: 'r1', outcome: 'approved', by: 'alice' });
  });

  it('human interaction: 72 hours pass and it escalates', async () => {
    const t0 = host.now().getTime();
    const s = await run('approvalWorkflow', { requestId: 'r2' });
    expect(s.output).toEqual({ requestId: 'r2', outcome: 'escalated', note: 'escalated r2' });
    expect(host.now().getTime() - t0).toBe(72 * 3_600_000);
  });

  it('aggregator over entities', async () => {
    const s = await run('fleetReport', {
      devices: ['d1', 'd2'],
      readings: [
        { device: 'd1', value: 3 },
        { device: 'd2', value: 9 },
        { device: 'd1', value: 4 },
      ],
    });
    expect(s.output).toEqual({ devices: 2, count: 3, sum: 16, max: 9 });
  });

  it('bank transfers under lockEntities conserve the total', async () => {
    const names = ['a', 'b', 'c', 'd'];
    for (const n of names) await host.client.callEntity(new EntityId('account', n), 'deposit', 100);
    const ids = await Promise.all(
      Array.from({ length: 24 }, (_, i) => host.client.startNew('transferFunds', { input: { from: names[i % 4], to: names[(i * 3 + 1) % 4], amount: 10 + (i % 5) * 20 } })),
    );
    const done = await Promise.all(ids.map((id) => host.client.waitForCompletion(id, { timeoutMs: DAY })));
    expect(done.every((s) => s.runtimeStatus === 'Completed')).toBe(true);
    const balances = await Promise.all(names.map((n) => host.client.callEntity<number>(new EntityId('account', n), 'balance')));
    expect(balances.reduce((a, b) => a + b, 0)).toBe(400);
    expect(balances.every((b) => b >= 0)).toBe(true);
  });
});

describe('orchestration ctx and management', () => {
  it('retries an activity with backoff', async () => {
    const s = await run('withRetry', { failTimes: 2 });
    expect(s.output).toBe('ok after 3');
    const f = await run('withRetry', { failTimes: 5 });
    expect(f.runtimeStatus).toBe('Failed');
    expect(f.failureDetails?.message).toContain('attempt 3 failed');
  });

  it('a failed activity is catchable, and uncaught fails the instance with its message and type', async () => {
    const s = await run('failing');
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.customStatus).toEqual({ caught: 'kaboom' });
    expect(s.failureDetails).toMatchObject({ message: 'kaboom' });
  });

  it('sub-orchestrations', async () => {
    const s = await run('parent', undefined, 'p-1');
    const hello = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];
    expect(s.output).toEqual([hello, hello]);
    expect((await host.client.getStatus('p-1-child'))?.runtimeStatus).toBe('Completed');
  });

  it('startNew with an existing running id is instance-exists; after completion it starts a new run', async () => {
    const id = await host.client.startNew('waiter', { instanceId: 'w-1' });
    await expect(host.client.startNew('waiter', { instanceId: 'w-1' })).rejects.toMatchObject({ code: 'instance-exists' });
    await host.client.raiseEvent(id, 'go', 1);
    expect((await host.client.waitForCompletion(id, { timeoutMs: DAY })).output).toBe(1);
    await host.client.startNew('waiter', { instanceId: 'w-1' });
    await host.client.raiseEvent(id, 'go', 2);
    expect((await host.client.waitForCompletion(id, { timeoutMs: DAY })).output).toBe(2);
  });

  it('suspend holds events until resume; terminate ends it', async () => {
    const id = await host.client.startNew('waiter');
    await host.idle();
    await host.client.suspend(id, 'hold');
    await host.idle();
    expect((await host.client.getStatus(id))?.runtimeStatus).toBe('Suspended');
    await host.client.raiseEvent(id, 'go', 'x');
    await host.advanceTime(DAY);
    expect((await host.client.getStatus(id))?.runtimeStatus).toBe('Suspended');
    await host.client.resume(id);
    expect((await host.client.waitForCompletion(id, { timeoutMs: DAY })).output).toBe('x');

    const t = await host.client.startNew('waiter');
    await host.client.terminate(t, 'enough');
    expect((await host.client.waitForCompletion(t, { timeoutMs: DAY })).runtimeStatus).toBe('Terminated');
    await expect(host.client.raiseEvent(t, 'go')).rejects.toMatchObject({ code: 'not-found', details: { gone: true } });
  });

  it('unknown orchestration is a validation error; status right after start is never missing', async () => {
    await expect(host.client.startNew('nope')).rejects.toMatchObject({ code: 'validation' });
    const id = await host.client.startNew('helloSequence');
    expect((await host.client.getStatus(id))?.runtimeStatus).toMatch(/Pending|Running|Completed/);
  });

  it('rewind retries the failed step of a Failed instance; restart runs it again', async () => {
    const failed = await run('rewindable', undefined, 'rw-1');
    expect(failed.runtimeStatus).toBe('Failed');
    await expect(host.client.rewind('never-started')).rejects.toMatchObject({ code: 'not-found' });
    await host.client.rewind('rw-1', 'try again');
    const s = await host.client.waitForCompletion('rw-1', { timeoutMs: DAY });
    expect(s.output).toEqual(['Hello before!', 'rw-1 ok on attempt 2']);
    await host.client.restart('rw-1');
    expect((await host.client.waitForCompletion('rw-1', { timeoutMs: DAY })).output).toEqual(['Hello before!', 'rw-1 ok on attempt 3']);
  });

  it('entities start orchestrations and send delayed signals (ctx.startNew, ctx.signalEntity with delayMs)', async () => {
    await host.client.callEntity(new EntityId('starter', 's1'), 'kickOff');
    const s = await host.client.waitForCompletion('from-entity-s1', { timeoutMs: DAY });
    expect(s.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    const target = new EntityId('counter', 'delayed');
    await host.client.callEntity(new EntityId('starter', 's1'), 'later', target.toString());
    await host.advanceTime(299_999);
    expect((await host.client.readEntityState(target)).exists).toBe(false);
    await host.advanceTime(1);
    expect((await host.client.readEntityState<{ value: number }>(target)).state?.value).toBe(3);
  });

  it('a restart mid-run replays every instance from its history and completes it', async () => {
    const ids = await Promise.all([1, 2, 3].map((i) => host.client.startNew('approvalWorkflow', { input: { requestId: `rr${i}` } })));
    await host.advanceTime(3_600_000);
    await host.restart();
    await host.client.raiseEvent(ids[0]!, 'Approval', { approved: false, by: 'bob' });
    const done = await Promise.all(ids.map((id) => host.client.waitForCompletion(id, { timeoutMs: 7 * DAY })));
    expect(done.map((s) => (s.output as { outcome: string }).outcome)).toEqual(['rejected', 'escalated', 'escalated']);
  });
});

describe('entity samples', () => {
  it('counter: signals then calls, observing the signals', async () => {
    const id = new EntityId('counter', 'user-42');
    for (let i = 1; i <= 10; i++) await host.client.signalEntity(id, 'add', i);
    expect(await host.client.callEntity(id, 'get')).toBe(55);
    expect(await host.client.readEntityState(id)).toMatchObject({ exists: true, state: { value: 55 } });
  });

  it('tally keeps a number state (DF counter sample): setState, errors leave it unchanged', async () => {
    const id = new EntityId('tally', 't1');
    for (let i = 1; i <= 4; i++) await host.client.signalEntity(id, 'add', i);
    expect(await host.client.callEntity(id, 'get')).toBe(10);
    await expect(host.client.callEntity(id, 'addPositive', -5)).rejects.toMatchObject({ code: 'operation-failed', message: 'negative amount -5' });
    expect(await host.client.callEntity(id, 'get')).toBe(10);
    await host.client.callEntity(id, 'reset');
    expect(await host.client.readEntityState(id)).toMatchObject({ exists: true, state: 0 });
  });

  it('counter returns an operation error to the caller and leaves state unchanged', async () => {
    const id = new EntityId('counter', 'err');
    await host.client.callEntity(id, 'add', 3);
    await expect(host.client.callEntity(id, 'addPositive', -1)).rejects.toMatchObject({ code: 'operation-failed', message: 'negative amount -1' });
    expect(await host.client.callEntity(id, 'get')).toBe(3);
  });

  it('rejects bad input with validation before writing', async () => {
    const id = new EntityId('counter', 'bad');
    await expect(host.client.signalEntity(id, 'add', 'five')).rejects.toMatchObject({ code: 'validation' });
    await expect(host.client.signalEntity(id, 'nope')).rejects.toMatchObject({ code: 'validation' });
    await expect(host.client.signalEntity(new EntityId('nothing', 'x'), 'add', 1)).rejects.toMatchObject({ code: 'validation' });
    expect(await host.client.readEntityState(id)).toEqual({ exists: false });
  });

  it('aggregator keeps a bounded window', async () => {
    const id = new EntityId('aggregator', 'device-1');
    for (let i = 1; i <= 25; i++) await host.client.signalEntity(id, 'record', { value: i });
    const s = await host.client.callEntity<any>(id, 'summary');
    expect(s).toEqual({ count: 25, sum: 325, min: 1, max: 25, mean: 13, last: [16, 17, 18, 19, 20, 21, 22, 23, 24, 25] });
    await expect(host.client.signalEntity(id, 'record', { value: 'x' })).rejects.toMatchObject({ code: 'validation' });
  });

  it('counter deletes state', async () => {
    const id = new EntityId('counter', 'to-delete');
    await host.client.callEntity(id, 'add', 1);
    await host.client.callEntity(id, 'delete');
    expect((await host.client.readEntityState(id)).exists).toBe(false);
    expect(await host.client.callEntity(id, 'get')).toBe(0);
  });

  it('delivers scheduled signals at their time, not before', async () => {
    const id = new EntityId('counter', 'scheduled');
    const at = new Date(host.now().getTime() + 7 * DAY);
    await host.client.signalEntity(id, 'add', 5, { at });
    await host.advanceTime(7 * DAY - 1);
    expect((await host.client.readEntityState(id)).exists).toBe(false);
    await host.advanceTime(1);
    expect(await host.client.callEntity(id, 'get')).toBe(5);
  });

  it('keeps per-sender FIFO over 1,000 signals', async () => {
    const id = new EntityId('aggregator', 'fifo');
    await Promise.all(Array.from({ length: 1000 }, (_, i) => host.client.signalEntity(id, 'record', { value: i })));
    const s = await host.client.callEntity<any>(id, 'summary');
    expect(s.count).toBe(1000);
    expect(s.last).toEqual(Array.from({ length: 10 }, (_, i) => 990 + i));
  });
});
