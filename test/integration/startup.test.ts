/**
 * Start-up against a cluster that is not ready, and cleanup of a start that fails.
 *
 * 1. Electing cluster. Injected: a fresh 3-node cluster whose workers and client are started the
 *    moment the first node's client port accepts TCP (before JetStream has a meta leader: /healthz
 *    of every node is recorded then, and some round must have seen one not 200); two worker processes and an in-process client open a
 *    new hub with replicas 3, all at once. Checked: all three start; a signal + call round trip
 *    and a helloSequence (activities) complete. Three rounds, each on a fresh cluster.
 * 2. No JetStream. Injected: a nats-server without -js, then a port nobody listens on.
 *    Checked: Worker.start({ startupTimeoutMs: 1500 }) rejects with DurableError 'connection'
 *    within 1.5 s + slack, in this process; and a worker process whose start failed exits by
 *    itself (exit code 3, no process.exit): the failed start left no handle behind.
 *    DurableClient.connect and createHttpServer take the same bound.
 * 3. Failure after leases started. Injected: worker A starts alone on a new hub with a metrics
 *    port already taken (it fails after taking all 16 partitions). Checked: A exits by itself;
 *    every partition lease is released (owner null), so worker B, with a 20 s lease, owns all 16
 *    within 5 s (an abandoned lease would keep them from B for 20 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableClient, DurableError, EntityId, Worker } from '../../src/index.js';
import { createHttpServer } from '../../src/http/server.js';
import { countOwners, leaseOwners, waitFor } from '../helpers/nats-cluster.js';
import { freePort, NATS_SERVER_BIN, startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const portAnswers = (port: number) =>
  new Promise<boolean>((res) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });

interface RawCluster {
  urls: string[];
  healthzAtStart: number[];
  stop(): Promise<void>;
}

/**
 * A 3-node cluster (the layout of test/helpers/nats-cluster.ts) that resolves as soon as one
 * client port accepts TCP: unlike startNatsCluster it does not wait for /healthz (meta leader).
 */
async function startElectingCluster(): Promise<RawCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dn-startup-'));
  const nodes = [];
  for (let i = 1; i <= 3; i++) nodes.push({ name: `n${i}`, port: await freePort(), clusterPort: await freePort(), httpPort: await freePort() });
  const children: ChildProcess[] = [];
  for (const n of nodes) {
    const store = join(dir, n.name);
    mkdirSync(store, { recursive: true });
    const conf = join(dir, `${n.name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${n.name}`,
        'host: 127.0.0.1',
        `port: ${n.port}`,
        `http_port: ${n.httpPort}`,
        `jetstream { store_dir: "${store}", max_memory_store: 256MB, max_file_store: 2GB }`,
        `cluster { name: dn-startup, listen: 127.0.0.1:${n.clusterPort}, routes: [${nodes.map((m) => `nats-route://127.0.0.1:${m.clusterPort}`).join(', ')}] }`,
        `log_file: "${join(dir, `${n.name}.log`)}"`,
      ].join('\n'),
    );
    children.push(spawn(NATS_SERVER_BIN, ['-c', conf], { stdio: 'ignore' }));
  }
  // The first node that listens is enough: the others (and the meta leader) may still be coming.
  const deadline = Date.now() + 10_000;
  while (!(await Promise.all(nodes.map((n) => portAnswers(n.port)))).some(Boolean)) {
    if (Date.now() > deadline) throw new Error('no node listened within 10 s');
    await sleep(10);
  }
  // Recorded, not waited for: 503 = no meta leader yet on that node, 0 = not listening yet.
  const healthzAtStart = await Promise.all(
    nodes.map((n) =>
      fetch(`http://127.0.0.1:${n.httpPort}/healthz`, { signal: AbortSignal.timeout(500) }).then(
        (r) => r.status,
        () => 0,
      ),
    ),
  );
  return {
    urls: nodes.map((n) => `nats://127.0.0.1:${n.port}`),
    healthzAtStart,
    async stop() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((res) => {
              if (c.exitCode !== null || c.signalCode !== null) return res();
              c.once('exit', () => res());
              c.kill('SIGKILL');
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Lines logged at warn or above, parsed (pino JSON), for asserting on retries. */
function captureLogger(level = 'warn') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** Runs the worker fixture as a child and resolves with its output and exit once it ends by itself. */
function runToExit(env: Record<string, string>, limitMs: number): Promise<{ out: string; code: number | null; ms: number; killed: boolean }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'test/fixtures/worker-process.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d.toString()));
  child.stderr!.on('data', (d) => (out += d.toString()));
  return new Promise((res) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res({ out, code, ms: Date.now() - t0, killed });
    });
  });
}

describe('start-up against a cluster still electing', () => {
  it('two worker processes and a client open a new R3 hub at once on a fresh cluster, three times', async () => {
    const healthz: number[][] = [];
    for (let round = 1; round <= 3; round++) {
      const cluster = await startElectingCluster();
      healthz.push(cluster.healthzAtStart);
      const procs: WorkerProcess[] = [];
      let client: DurableClient | undefined;
      try {
        const hub = `startup-r${round}`;
        const { logger, lines } = captureLogger('debug');
        const t0 = Date.now();
        let clientMs = 0;
        const env = (id: string) => ({ NATS_URL: cluster.urls.join(','), HUB: hub, REPLICAS: '3', WORKER_ID: id, LEASE_MS: '2000', LOG_LEVEL: 'error' });
        const started = await Promise.allSettled([
          startWorkerProcess(env('a')),
          startWorkerProcess(env('b')),
          DurableClient.connect({ servers: cluster.urls, hub, replicas: 3, logger }).finally(() => {
            clientMs = Date.now() - t0;
          }),
        ]);
        for (const s of started)
          if (s.status === 'fulfilled' && s.value instanceof DurableClient) client = s.value;
          else if (s.status === 'fulfilled') procs.push(s.value as WorkerProcess);
        const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => String(s.reason?.message ?? s.reason));
        expect(failures).toEqual([]);
        const startMs = Date.now() - t0;
        const retries = lines.filter((l) => l.msg === 'start-up step failed transiently; retrying');
        console.log(
          `round ${round}: healthz at start ${cluster.healthzAtStart.join('/')}; client connected in ${clientMs} ms, all started in ${startMs} ms; client retried ${retries.length} times (${[...new Set(retries.map((l) => l.step))].join(', ')}; errors: ${[...new Set(retries.map((l) => String(l.err).slice(0, 80)))].join(' / ')}); slowest client steps: ${lines
            .filter((l) => l.msg === 'start-up step done')
            .sort((x, y) => (y.ms as number) - (x.ms as number))
            .slice(0, 3)
            .map((l) => `${l.step} ${l.ms} ms`)
            .join(', ')}`,
        );

        const id = new EntityId('counter', `r${round}`);
        await client!.signalEntity(id, 'add', 5);
        expect(await client!.callEntity(id, 'get', undefined, { timeoutMs: 20_000 })).toBe(5);
        const instanceId = await client!.startNew('helloSequence', { instanceId: `hello-${round}` });
        const status = await client!.waitForCompletion(instanceId, { timeoutMs: 20_000 });
        expect(status.runtimeStatus).toBe('Completed');
        expect(status.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
      } finally {
        await client?.close().catch(() => undefined);
        for (const p of procs) await p.kill('SIGKILL');
        await cluster.stop();
      }
    }
    // The point of the test: at least one start met a cluster that was not ready.
    expect(healthz.some((h) => h.some((status) => status !== 200))).toBe(true);
  }, 180_000);
});

describe('start-up without JetStream', () => {
  let plain: ChildProcess;
  let plainUrl: string;
  beforeAll(async () => {
    const port = await freePort();
    plain = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' }); // no -js
    const deadline = Date.now() + 10_000;
    while (!(await portAnswers(port))) {
      if (Date.now() > deadline) throw new Error('plain nats-server did not listen');
      await sleep(20);
    }
    plainUrl = `nats://127.0.0.1:${port}`;
  });
  afterAll(() => {
    plain?.kill('SIGKILL');
  });

  it('Worker.start rejects with connection within its startupTimeoutMs (server without JetStream, and no server)', async () => {
    const nobody = `nats://127.0.0.1:${await freePort()}`;
    for (const servers of [plainUrl, nobody]) {
      const { logger, lines } = captureLogger();
      const t0 = Date.now();
      const err = await Worker.start({ servers, hub: 'nojs', startupTimeoutMs: 1_500, logger }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const ms = Date.now() - t0;
      expect(DurableError.is(err, 'connection')).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(1_400);
      expect(ms).toBeLessThan(3_000);
      // Retried and logged (with the step), not failed at the first answer.
      expect(lines.filter((l) => l.msg === 'start-up step failed transiently; retrying').length).toBeGreaterThan(1);
      console.log(`${servers === plainUrl ? 'no JetStream' : 'no server'}: rejected after ${ms} ms: ${(err as Error).message}`);
    }
  });

  it('DurableClient.connect and createHttpServer are bounded the same way', async () => {
    for (const start of [
      () => DurableClient.connect({ servers: plainUrl, hub: 'nojs', startupTimeoutMs: 1_000 }),
      () => createHttpServer({ servers: plainUrl, hub: 'nojs', port: 0, startupTimeoutMs: 1_000, logger: pino({ level: 'silent' }) }),
    ]) {
      const t0 = Date.now();
      const err = await start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(DurableError.is(err, 'connection')).toBe(true);
      expect((err as Error).message).toMatch(/^JetStream account info: gave up after \d+ ms/);
      expect(Date.now() - t0).toBeLessThan(2_500);
    }
  });

  it('a worker process whose start failed exits by itself (no handles left)', async () => {
    for (const servers of [plainUrl, `nats://127.0.0.1:${await freePort()}`]) {
      const r = await runToExit({ NATS_URL: servers, HUB: 'nojs', STARTUP_TIMEOUT_MS: '1500' }, 15_000);
      expect(r.killed, r.out).toBe(false);
      expect(r.code, r.out).toBe(3);
      expect(r.out).toMatch(/start-failed connection \d+/);
      const startMs = Number(/start-failed connection (\d+)/.exec(r.out)![1]);
      expect(startMs).toBeLessThan(3_000);
    }
  }, 40_000);
});

describe('a start that fails after its leases started', () => {
  let server: TestServer;
  let blocker: Server;
  let blockedPort: number;
  beforeAll(async () => {
    server = await startNatsServer();
    blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
    blockedPort = (blocker.address() as { port: number }).port;
  });
  afterAll(async () => {
    blocker?.close();
    await server?.stop();
  });

  it('releases every partition and leaves nothing running', async () => {
    const hub = 'startup-fail';
    const client = await DurableClient.connect({ servers: server.url, hub });
    let b: WorkerProcess | undefined;
    try {
      // A: alone on the hub, so its first lease tick (inside start) takes all 16 partitions;
      // then its metrics server cannot listen (host 127.0.0.1, port taken).
      const a = await runToExit({ NATS_URL: server.url, HUB: hub, WORKER_ID: 'a', LEASE_MS: '20000', METRICS_PORT: String(blockedPort), METRICS_HOST: '127.0.0.1' }, 20_000);
      expect(a.killed, a.out).toBe(false);
      expect(a.code, a.out).toBe(3);
      expect(a.out).toMatch(/start-failed/);
      // A did take every partition (each lease key was written) and released them all before exiting.
      const written = await Promise.all(Array.from({ length: 16 }, (_, p) => client.hub.kv.leases.get(`p.${p}`)));
      expect(written.every((e) => e !== null)).toBe(true);
      expect(countOwners(await leaseOwners(client))).toEqual({ null: 16 });
      // B with a 20 s lease: released partitions are free at once, abandoned ones only after 20 s.
      b = await startWorkerProcess({ NATS_URL: server.url, HUB: hub, WORKER_ID: 'b', LEASE_MS: '20000' });
      const t0 = Date.now();
      await waitFor('b to own all 16', async () => JSON.stringify(countOwners(await leaseOwners(client))) === JSON.stringify({ b: 16 }), 5_000);
      console.log(`failed start exited by itself in ${a.ms} ms; b owned all 16 partitions ${Date.now() - t0} ms after its ready line`);
    } finally {
      await b?.kill('SIGKILL');
      await client.close();
    }
  }, 60_000);
});
