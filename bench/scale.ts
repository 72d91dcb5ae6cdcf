/**
 * Scale-out figures: entity signal and hello-orchestration throughput with 1, 2 and 4 worker
 * processes, recovery time after a worker SIGKILL, and the cost of R3 (3-node cluster) vs R1.
 * Bounded: ~2-3 minutes on 2 cores. Each measurement uses a fresh hub and fresh processes.
 */
import { DurableClient, EntityId } from '../src/index.js';
import { entityPartition } from '../src/core/topology.js';
import { startNatsCluster } from '../test/helpers/nats-cluster.js';
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/processes.js';
import { pipelined, round, summarize } from './stats.js';

const SIGNALS = 20_000;
const KEYS = 250; // divides SIGNALS: every key gets SIGNALS / KEYS
const INSTANCES = 200;

let hubSeq = 0;
const progress = (msg: string) => {
  if (process.env.BENCH_VERBOSE) process.stderr.write(`[scale] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
};
const newHub = (what: string) => `scale-${what}-${Date.now().toString(36)}-${hubSeq++}`;

async function withWorkers<T>(servers: string, hub: string, n: number, extra: Record<string, string>, fn: (workers: WorkerProcess[]) => Promise<T>): Promise<T> {
  const workers: WorkerProcess[] = [];
  try {
    for (let i = 0; i < n; i++) workers.push(await startWorkerProcess({ NATS_URL: servers, HUB: hub, LEASE_MS: '2000', WORKER_ID: `w${i}`, ...extra }));
    // Let the partitions settle over the workers before measuring.
    await new Promise((r) => setTimeout(r, 1_500 + n * 300));
    return await fn(workers);
  } finally {
    for (const w of workers) await w.kill('SIGKILL');
  }
}

/** Signals/s from the first send until every counter answers with its full total. */
async function signalRate(client: DurableClient, prefix: string): Promise<number> {
  const t0 = performance.now();
  progress('signals');
  await pipelined(SIGNALS, 512, (i) => client.signalEntity(new EntityId('counter', `${prefix}${i % KEYS}`), 'add', 1));
  const per = SIGNALS / KEYS;
  progress('signals sent; reading totals');
  await pipelined(KEYS, 64, async (k) => {
    for (;;) {
      if ((await client.callEntity<number>(new EntityId('counter', `${prefix}${k}`), 'get', undefined, { timeoutMs: 60_000 })) >= per) return;
    }
  });
  return SIGNALS / ((performance.now() - t0) / 1000);
}

/** helloSequence instances/s from the first start until the last completes. */
async function helloRate(client: DurableClient): Promise<number> {
  const t0 = performance.now();
  const ids: string[] = [];
  progress('hello starts');
  await pipelined(INSTANCES, 64, async (i) => void ids.push(await client.startNew('helloSequence', { instanceId: `h${i}` })));
  progress('hello started; waiting');
  await pipelined(ids.length, 64, (i) => client.waitForCompletion(ids[i]!, { timeoutMs: 120_000 }));
  return INSTANCES / ((performance.now() - t0) / 1000);
}

async function callP50(client: DurableClient): Promise<number> {
  const samples: number[] = [];
  const id = new EntityId('counter', 'latency');
  await client.callEntity(id, 'get');
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await client.callEntity(id, 'add', 1);
    samples.push(performance.now() - t);
  }
  return summarize(samples).p50;
}

/** Kills one of two workers and times how long until an entity in one of its partitions answers. */
async function recoveryAfterKill(servers: string): Promise<Record<string, number>> {
  const hub = newHub('recovery');
  return withWorkers(servers, hub, 2, {}, async (workers) => {
    const client = await DurableClient.connect({ servers, hub });
    try {
      // w1 owns the odd partitions (sorted ids, p % 2): pick keys that live there.
      const keys = Array.from({ length: 400 }, (_, i) => `r${i}`)
        .filter((k) => entityPartition(new EntityId('counter', k), client.hub.config.partitions) % 2 === 1)
        .slice(0, 16);
      await Promise.all(keys.map((k) => client.callEntity(new EntityId('counter', k), 'add', 1)));
      const t0 = performance.now();
      await workers[1]!.kill('SIGKILL');
      await Promise.all(keys.map((k) => client.callEntity(new EntityId('counter', k), 'add', 1, { timeoutMs: 60_000 })));
      return { leaseMs: 2000, firstProgressMs: round(performance.now() - t0, 0) };
    } finally {
      await client.close();
    }
  });
}

async function throughputWith(servers: string, n: number, replicas?: number): Promise<{ signalsPerSec: number; helloPerSec: number; callP50Ms: number }> {
  const hub = newHub(`w${n}${replicas ? `r${replicas}` : ''}`);
  return withWorkers(servers, hub, n, replicas ? { REPLICAS: String(replicas) } : {}, async () => {
    const client = await DurableClient.connect({ servers, hub, ...(replicas ? { replicas } : {}) });
    try {
      return { signalsPerSec: round(await signalRate(client, 'k'), 0), helloPerSec: round(await helloRate(client), 1), callP50Ms: round(await callP50(client), 2) };
    } finally {
      await client.close();
    }
  });
}

/**
 * @example const figures = await scaleFigures('nats://127.0.0.1:4222');
 */
export async function scaleFigures(serverUrl: string): Promise<Record<string, unknown>> {
  const started = performance.now();
  const byWorkers: Record<string, unknown> = {};
  for (const n of [1, 2, 4]) byWorkers[`${n}`] = await throughputWith(serverUrl, n);
  const recovery = await recoveryAfterKill(serverUrl);
  const cluster = await startNatsCluster();
  let r3: Record<string, unknown>;
  try {
    r3 = await throughputWith(cluster.servers, 1, 3);
  } finally {
    await cluster.stop();
  }
  return {
    note: 'one NATS server (R1) unless stated; worker processes on the same 2-core machine as the server and the client',
    workers: byWorkers,
    recoveryAfterWorkerKill: recovery,
    r1VsR3: { r1: byWorkers['1'], r3ThreeNodeCluster: r3 },
    seconds: round((performance.now() - started) / 1000, 1),
  };
}
