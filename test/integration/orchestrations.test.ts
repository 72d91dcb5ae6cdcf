/** The samples end to end on a real server and worker, where the fabric matters (load, paging over the status stream, status ordering, deploys); their logic runs on the test kit in test/unit/samples.test.ts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DurableClient, EntityId, Worker, orchestration } from '../../src/index.js';
import { activities, entities, orchestrations } from '../../orchestrations/index.js';
import { expectedTotalBytes } from '../../orchestrations/fan-out-fan-in.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { statusKey } from '../../src/core/topology.js';

let server: TestServer;
let worker: Worker;
let client: DurableClient;
const hub = 'orch-test';

const waiter = orchestration('waiter', function* (ctx) {
  const v = yield ctx.waitForExternalEvent('go');
  ctx.setCustomStatus('got it');
  return v;
});

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({
    servers: server.url,
    hub,
    leaseMs: 2000,
    logger: pino({ level: 'warn' }),
    entities,
    orchestrations: [...orchestrations, waiter],
    activities,
  });
  client = await DurableClient.connect({ servers: server.url, hub });
});

afterAll(async () => {
  await versionedWorker?.stop();
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

const run = async (name: string, input?: unknown, instanceId?: string) => {
  const id = await client.startNew(name, { ...(input === undefined ? {} : { input }), ...(instanceId ? { instanceId } : {}) });
  return client.waitForCompletion(id, { timeoutMs: 30_000 });
};

describe('orchestration patterns', () => {
  it('function chaining', async () => {
    const s = await run('helloSequence');
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('fan-out/fan-in over 500 activities', async () => {
    const s = await run('fanOutFanIn', { count: 500 });
    expect(s.output).toEqual({ files: 500, totalBytes: expectedTotalBytes(500) });
  });

  it('bank transfers under lockEntities conserve the total', async () => {
    const names = ['a', 'b', 'c', 'd'];
    for (const n of names) await client.callEntity(new EntityId('account', n), 'deposit', 100);
    const ids = await Promise.all(
      Array.from({ length: 24 }, (_, i) => client.startNew('transferFunds', { input: { from: names[i % 4], to: names[(i * 3 + 1) % 4], amount: 10 + (i % 5) * 20 } })),
    );
    const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 60_000 })));
    expect(done.every((s) => s.runtimeStatus === 'Completed')).toBe(true);
    const balances = await Promise.all(names.map((n) => client.callEntity<number>(new EntityId('account', n), 'balance')));
    expect(balances.reduce((a, b) => a + b, 0)).toBe(400);
    expect(balances.every((b) => b >= 0)).toBe(true);
  });
});

describe('orchestration ctx and management', () => {
  it('getStatus with history, list with filters and paging, purge', async () => {
    const ids = await Promise.all([1, 2, 3].map((i) => client.startNew('helloSequence', { instanceId: `list-${i}` })));
    await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 30_000 })));
    const s = await client.getStatus('list-1', { showHistory: true });
    expect((s!.history as Array<{ type: string }>).map((e) => e.type)).toContain('TaskCompleted');
    const page1 = await client.listInstances({ namePrefix: 'hellos', runtimeStatus: ['Completed'], pageSize: 2 });
    expect(page1.instances).toHaveLength(2);
    const page2 = await client.listInstances({ namePrefix: 'hellos', runtimeStatus: ['Completed'], pageSize: 2, continuationToken: page1.continuationToken! });
    expect(page2.instances.length).toBeGreaterThan(0);
    expect(await client.purge('list-1')).toEqual({ deleted: 1 });
    expect(await client.getStatus('list-1')).toBeUndefined();
    expect(await client.purge('list-1')).toEqual({ deleted: 0 });
    expect(await client.purge('never-existed')).toEqual({ deleted: 0 });
  });

  /** Starts a waiter, waits for its Running record (with its position), and writes raw records as a worker would. */
  const runningWaiter = async () => {
    const id = await client.startNew('waiter');
    let running: { _v?: number } & Record<string, unknown> = {};
    await waitFor(async () => {
      const e = await client.hub.kv.status.get(statusKey(id));
      running = e ? JSON.parse(new TextDecoder().decode(e.value)) : {};
      return running.runtimeStatus === 'Running' && typeof running._v === 'number';
    });
    const write = (record: Record<string, unknown>) => client.hub.kv.status.put(statusKey(id), new TextEncoder().encode(JSON.stringify(record)));
    return { id, running, position: running._v!, write };
  };

  it('a worker whose clock is far behind still wakes waiters: statuses are ordered by history position', async () => {
    const { id, running, position, write } = await runningWaiter();
    await write({ ...running, lastUpdatedTime: '2999-01-01T00:00:00.000Z' }); // seen first: a clock far ahead
    const waiting = client.waitForCompletion(id, { timeoutMs: 5_000 });
    await sleep(200);
    await write({ ...running, runtimeStatus: 'Completed', output: 'skewed', lastUpdatedTime: '2000-01-01T00:00:00.000Z', _v: position + 1 });
    expect(await waiting).toMatchObject({ runtimeStatus: 'Completed', output: 'skewed' });
  });

  it('a write from an earlier history position arriving late is not news, whatever its time', async () => {
    const { id, running, position, write } = await runningWaiter();
    const waiting = client.waitForCompletion(id, { timeoutMs: 600 });
    await sleep(200);
    await write({ ...running, runtimeStatus: 'Completed', output: 'stale', lastUpdatedTime: '2999-01-01T00:00:00.000Z', _v: position - 1 });
    await expect(waiting).rejects.toMatchObject({ code: 'timeout' });
  });

  it('lists instances in one pass while statuses are rewritten all the time: bounded time, each instance once per page', async () => {
    const lclient = await DurableClient.connect({ servers: server.url, hub: 'orch-list-scan' });
    const N = 300;
    const idOf = (i: number) => `scan-${String(i).padStart(4, '0')}`;
    const record = (i: number, runtimeStatus: string) =>
      new TextEncoder().encode(
        JSON.stringify({
          instanceId: idOf(i),
          name: i % 2 ? 'odd' : 'even',
          runtimeStatus,
          createdTime: new Date(1_700_000_000_000 + i).toISOString(),
          lastUpdatedTime: new Date().toISOString(),
          _v: 1,
        }),
      );
    await Promise.all(Array.from({ length: N }, (_, i) => lclient.hub.kv.status.put(statusKey(idOf(i)), record(i, 'Running'))));
    let writing = true;
    let rewrites = 0;
    const writer = (async () => {
      for (let n = 0; writing && n < 200_000; n++) {
        // a status rewritten continuously, as busy workers do
        await lclient.hub.kv.status.put(statusKey(idOf(n % N)), record(n % N, 'Running'));
        rewrites++;
      }
    })();
    try {
      await sleep(100);
      const before = rewrites;
      const t0 = Date.now();
      const all = await lclient.listInstances({ pageSize: 10_000 });
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(all.instances).toHaveLength(N);
      expect(new Set(all.instances.map((s) => s.instanceId)).size).toBe(N);
      expect(all.continuationToken).toBeUndefined();
      // Paged: full pages of matching instances; the listing ends; none is missing.
      const seen = new Set<string>();
      let token: string | undefined;
      let pages = 0;
      const t1 = Date.now();
      do {
        const page = await lclient.listInstances({ namePrefix: 'odd', pageSize: 40, ...(token ? { continuationToken: token } : {}) });
        if (page.continuationToken) expect(page.instances).toHaveLength(40);
        expect(new Set(page.instances.map((s) => s.instanceId)).size).toBe(page.instances.length);
        for (const s of page.instances) {
          expect(s.name).toBe('odd');
          seen.add(s.instanceId);
        }
        token = page.continuationToken;
      } while (token && ++pages < 1_000);
      expect(Date.now() - t1).toBeLessThan(10_000);
      expect(seen.size).toBe(N / 2);
      expect(rewrites - before).toBeGreaterThan(10); // the statuses really were moving during the listing
    } finally {
      writing = false;
      await writer;
      await lclient.close();
    }
  });

  it('waitForCompletion times out with a timeout error', async () => {
    const id = await client.startNew('waiter');
    await expect(client.waitForCompletion(id, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'timeout' });
    await client.terminate(id);
  });
});

let versionedWorker: Worker | undefined;

describe('nondeterminism', () => {
  it('code that no longer matches a running instance fails it with nondeterminism, naming both steps', async () => {
    const vhub = 'orch-versions';
    const v1 = orchestration('versioned', function* (ctx) {
      yield ctx.callActivity('sayHello', 'one');
      return yield ctx.waitForExternalEvent('go');
    });
    const v2 = orchestration('versioned', function* (ctx) {
      yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 10));
      return yield ctx.waitForExternalEvent('go');
    });
    const opts = { servers: server.url, hub: vhub, leaseMs: 1000, logger: pino({ level: 'silent' }), activities };
    versionedWorker = await Worker.start({ ...opts, orchestrations: [v1] });
    const vclient = await DurableClient.connect({ servers: server.url, hub: vhub });
    const id = await vclient.startNew('versioned');
    await waitFor(async () => ((await vclient.readHistory(id)) as Array<{ type: string }>).some((e) => e.type === 'TaskCompleted'));
    await versionedWorker.stop();
    versionedWorker = await Worker.start({ ...opts, orchestrations: [v2] });
    await vclient.raiseEvent(id, 'go', 1);
    const s = await vclient.waitForCompletion(id, { timeoutMs: 15_000 });
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.failureDetails?.message).toMatch(/callActivity\('sayhello'\)/);
    expect(s.failureDetails?.message).toMatch(/createTimer/);
    await vclient.close();
  }, 30_000);
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not met in time');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
