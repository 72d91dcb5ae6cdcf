/** Entity history, time travel, restore and watch against a real server and an in-process worker. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DurableClient, orchestration, Worker, type EntityVersion } from '../../src/index.js';
import { counter } from '../../entities/counter.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

const waitGo = orchestration('schedWaitGo', function* (ctx) {
  return yield ctx.waitForExternalEvent('go');
});

let server: TestServer;
let worker: Worker;
let client: DurableClient;
const hub = 'entity-history';

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({ servers: server.url, hub, entities: [counter], orchestrations: [waitGo], logger: pino({ level: 'warn' }), leaseMs: 2000 });
  client = await DurableClient.connect({ servers: server.url, hub });
});

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('entity history', () => {
  it('lists versions with their operations, forward and reverse, in pages', async () => {
    for (let i = 1; i <= 5; i++) await client.callEntity('@counter@h1', 'add', i);
    await client.callEntity('@counter@h1', 'reset');
    const all = await client.entityHistory<{ value: number }>('@counter@h1');
    expect(all.next).toBeUndefined();
    const ops = all.versions.flatMap((v) => v.operations);
    expect(ops.filter((o) => o.op === 'add').map((o) => o.input)).toEqual([1, 2, 3, 4, 5]);
    expect(ops.at(-1)).toEqual({ op: 'reset' });
    expect(all.versions.at(-1)!.state).toEqual({ value: 0 });
    const versions = all.versions.map((v) => v.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);

    const p1 = await client.entityHistory('@counter@h1', { limit: 2 });
    expect(p1.versions.map((v) => v.version)).toEqual(versions.slice(0, 2));
    const p2 = await client.entityHistory('@counter@h1', { limit: 2, fromVersion: p1.next! });
    expect(p2.versions.map((v) => v.version)).toEqual(versions.slice(2, 4));
    const r1 = await client.entityHistory('@counter@h1', { limit: 3, reverse: true });
    expect(r1.versions.map((v) => v.version)).toEqual([...versions].reverse().slice(0, 3));
    const r2 = await client.entityHistory('@counter@h1', { limit: 3, reverse: true, fromVersion: r1.next! });
    expect(r2.versions.map((v) => v.version)).toEqual([...versions].reverse().slice(3, 6));
  });

  it('reads a version, the state at a time, and restores a version through the inbox', async () => {
    await client.callEntity('@counter@h2', 'add', 10);
    const v10 = await client.readEntityState<{ value: number }>('@counter@h2');
    await sleep(50);
    const between = new Date();
    await sleep(50);
    // Other entities' events in between: the time search must skip them.
    for (let i = 0; i < 20; i++) await client.signalEntity(`@counter@noise${i}`, 'add', 1);
    await client.callEntity('@counter@h2', 'add', 5);
    const byVersion = await client.readEntityState<{ value: number }>('@counter@h2', { version: v10.version! });
    expect(byVersion).toMatchObject({ exists: true, state: { value: 10 }, version: v10.version });
    expect(byVersion.time).toBeInstanceOf(Date);
    const byTime = await client.readEntityState<{ value: number }>('@counter@h2', { at: between });
    expect(byTime.version).toBe(v10.version);
    expect(byTime.state).toEqual({ value: 10 });
    await expect(client.readEntityState('@counter@h2', { at: new Date(Date.now() - 3_600_000) })).rejects.toMatchObject({ code: 'not-found' });
    await expect(client.readEntityState('@counter@h2', { version: 1 })).rejects.toMatchObject({ code: 'not-found' }); // another subject's sequence

    const { version } = await client.restoreEntity('@counter@h2', { version: v10.version! });
    const now = await client.readEntityState<{ value: number }>('@counter@h2');
    expect(now).toMatchObject({ exists: true, state: { value: 10 }, version });
    const last = (await client.entityHistory('@counter@h2', { reverse: true, limit: 1 })).versions[0]!;
    expect(last.operations).toEqual([{ op: '__restore', input: { version: v10.version } }]);
    expect(await client.callEntity('@counter@h2', 'get')).toBe(10);
  });

  it('a watcher gets the current state, then every version in order', async () => {
    await client.callEntity('@counter@w', 'add', 1);
    const ac = new AbortController();
    const seen: EntityVersion<{ value: number }>[] = [];
    const done = (async () => {
      for await (const v of client.watchEntity<{ value: number }>('@counter@w', { signal: ac.signal })) {
        seen.push(v);
        if (v.state?.value === 1 + 200) ac.abort();
      }
    })();
    for (let i = 0; i < 200; i++) await client.signalEntity('@counter@w', 'add', 1);
    await Promise.race([
      done,
      sleep(20_000).then(() => {
        throw new Error(`watch saw ${seen.length} versions`);
      }),
    ]);
    const history = (await client.entityHistory<{ value: number }>('@counter@w', { limit: 1000 })).versions;
    const firstSeen = seen[0]!.version;
    expect(seen.map((v) => v.version)).toEqual(history.filter((v) => v.version >= firstSeen).map((v) => v.version));
    expect(seen.map((v) => v.state)).toEqual(history.filter((v) => v.version >= firstSeen).map((v) => v.state));
  });

  it('a watch of a never-used entity starts with exists: false, then sees its creation', async () => {
    const ac = new AbortController();
    const it = client.watchEntity('@counter@fresh', { signal: ac.signal })[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toMatchObject({ exists: false, version: 0 });
    await client.signalEntity('@counter@fresh', 'add', 3);
    const second = await it.next();
    expect(second.value).toMatchObject({ exists: true, state: { value: 3 } });
    ac.abort();
    expect((await it.next()).done).toBe(true);
  });
});

describe('schedules (in process)', () => {
  it('create, get, list, trigger, pause, resume, delete, and errors', async () => {
    await client.createSchedule('s1', { every: 3_600_000, action: { signalEntity: { id: '@counter@sched', op: 'add', input: 2 } } });
    await expect(client.createSchedule('s1', { every: 1000, action: { signalEntity: { id: '@counter@sched', op: 'add', input: 2 } } })).rejects.toMatchObject({
      code: 'instance-exists',
    });
    await expect(client.createSchedule('s2', { cron: 'bad', action: { startNew: { name: 'x' } } })).rejects.toMatchObject({ code: 'validation' });
    await expect(client.createSchedule('s2', { every: 1000, action: { signalEntity: { id: '@nope@x', op: 'add' } } })).rejects.toMatchObject({ code: 'validation' });
    const s = await client.getSchedule('s1');
    expect(s).toMatchObject({ id: 's1', every: 3_600_000, paused: false, overlap: 'skip' });
    expect(s!.nextRuns).toHaveLength(5);
    expect(s!.nextRuns[1]!.getTime() - s!.nextRuns[0]!.getTime()).toBe(3_600_000);
    expect((await client.listSchedules()).schedules.map((x) => x.id)).toEqual(['s1']);
    expect((await client.listEntities()).entities.map((e) => e.id)).not.toContain('@dn-schedule@s1');

    expect(await client.triggerSchedule('s1')).toEqual({});
    await sleep(200);
    expect(await client.callEntity('@counter@sched', 'get')).toBe(2);
    expect((await client.getSchedule('s1'))!.lastRun?.time).toBeInstanceOf(Date);

    await client.pauseSchedule('s1');
    expect(await client.getSchedule('s1')).toMatchObject({ paused: true, nextRuns: [] });
    await client.resumeSchedule('s1');
    expect((await client.getSchedule('s1'))!.nextRuns).toHaveLength(5);
    await client.deleteSchedule('s1');
    expect(await client.getSchedule('s1')).toBeUndefined();
    await expect(client.deleteSchedule('s1')).rejects.toMatchObject({ code: 'not-found' });
    await expect(client.pauseSchedule('nope')).rejects.toMatchObject({ code: 'not-found' });
  });

  it("overlap 'skip' starts no run while the last one is running, and starts again once it finished", async () => {
    await client.createSchedule('ov', { every: 500, action: { startNew: { name: 'schedWaitGo' } } });
    await sleep(2_300);
    const first = (await client.getSchedule('ov'))!;
    const runs = async () => (await client.listInstances({ pageSize: 1000 })).instances.filter((i) => i.instanceId.startsWith('ov@'));
    expect(await runs()).toHaveLength(1);
    expect(first.lastSkipped).toBeInstanceOf(Date);
    await client.raiseEvent(first.lastRun!.instanceId!, 'go', 1);
    await client.waitForCompletion(first.lastRun!.instanceId!, { timeoutMs: 30_000 });
    await sleep(1_200);
    await client.pauseSchedule('ov');
    const after = await runs();
    expect(after).toHaveLength(2);
    expect(after.filter((i) => i.runtimeStatus === 'Running')).toHaveLength(1);
  });

  it('an every-second schedule ticks on time, once per tick', async () => {
    await client.createSchedule('fast', { every: 500, action: { signalEntity: { id: '@counter@fast', op: 'add', input: 1 } } });
    await sleep(2_600);
    await client.pauseSchedule('fast');
    await sleep(200);
    const value = await client.callEntity<number>('@counter@fast', 'get');
    expect(value).toBeGreaterThanOrEqual(4);
    expect(value).toBeLessThanOrEqual(6);
    const adds = (await client.entityHistory('@counter@fast', { limit: 1000 })).versions.flatMap((v) => v.operations).filter((o) => o.op === 'add');
    expect(adds).toHaveLength(value);
  });
});
