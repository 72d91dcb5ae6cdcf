/** Entity benchmarks: hot-key and spread signal throughput, call latency, cold load, idle RSS. */
import { readFileSync } from 'node:fs';
import { type DurableClient, EntityId } from '../src/index.js';
import { pipelined, summarize } from './stats.js';

export interface EntityFigures {
  hotSignalsPerSec: number;
  spreadSignalsPerSec: number;
  callSequentialMs: { p50: number; p99: number };
  call64Ms: { p50: number; p99: number; perSec: number };
  coldLoad: { operations: number; firstCallMs: number; readStateMs: number; warmCallMs: number };
  rss: { idleWorkerMb: number; with100kEntitiesMb: number; entities: number };
}

/** Asks a worker process (test/fixtures/worker-process.ts, started with --expose-gc) to collect garbage and report memory. */
export async function retainedMemory(worker: {
  pid: number;
  output: () => string;
}): Promise<{ rssMb: number; heapMb: number; heapTotalMb?: number; externalMb?: number; arrayBuffersMb?: number }> {
  const before = worker.output().length;
  process.kill(worker.pid, 'SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const m = /mem (\d+) (\d+)(?: (\d+) (\d+) (\d+))?/.exec(worker.output().slice(before));
    const mb = (x: string | undefined) => (x === undefined ? undefined : Number(x) / 2 ** 20);
    if (m) return { rssMb: mb(m[1])!, heapMb: mb(m[2])!, heapTotalMb: mb(m[3]), externalMb: mb(m[4]), arrayBuffersMb: mb(m[5]) };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('worker did not report memory');
}

/**
 * Memory of an idle worker once it has settled: V8 gives the pages a burst of load used back to
 * the OS only some time after a GC, so one reading right after the load measures the burst, not
 * what the idle entities retain. Collects garbage every second until RSS moves less than 2 MiB
 * between two readings (at most `maxSeconds`); returns the first and the settled reading.
 */
export async function settledMemory(
  worker: { pid: number; output: () => string },
  maxSeconds = 10,
): Promise<{ first: Awaited<ReturnType<typeof retainedMemory>>; settled: Awaited<ReturnType<typeof retainedMemory>>; seconds: number }> {
  const first = await retainedMemory(worker);
  let prev = first;
  for (let s = 1; s <= maxSeconds; s++) {
    await new Promise((r) => setTimeout(r, 1_000));
    const m = await retainedMemory(worker);
    if (Math.abs(m.rssMb - prev.rssMb) < 2) return { first, settled: m, seconds: s };
    prev = m;
  }
  return { first, settled: prev, seconds: maxSeconds };
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** Signals `n` adds and returns signals/s from first send until a call observes all of them. */
export async function signalThroughput(client: DurableClient, keys: (i: number) => string, n: number, check: string[]): Promise<number> {
  const t0 = performance.now();
  await pipelined(n, 1024, (i) => client.signalEntity(new EntityId('counter', keys(i)), 'add', 1));
  await Promise.all(check.map((k) => client.callEntity(new EntityId('counter', k), 'get', undefined, { timeoutMs: 120_000 })));
  return n / ((performance.now() - t0) / 1000);
}

export async function callLatency(client: DurableClient, n: number, lanes: number): Promise<{ p50: number; p99: number; perSec: number }> {
  const samples: number[] = [];
  const t0 = performance.now();
  await pipelined(n, lanes, async (i) => {
    const t = performance.now();
    await client.callEntity(new EntityId('counter', `call-${i % lanes}`), 'add', 1);
    samples.push(performance.now() - t);
  });
  const s = summarize(samples);
  return { p50: s.p50, p99: s.p99, perSec: n / ((performance.now() - t0) / 1000) };
}
