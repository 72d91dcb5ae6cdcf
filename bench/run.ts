/**
 * `npm run bench`: one fresh nats-server, raw JetStream baselines, then durable-nats figures
 * measured against them in the same run. Prints a table, writes JSON to bench/results/.
 *
 * `npm run bench` compiles (tsconfig.bench.json -> dist/) and runs dist/bench/run.js: the worker
 * under test runs as plain node on compiled JS (no tsx loader in its CPU or RSS).
 *
 * Paired figures (the ones issue 10 lists) are measured `--runs N` times (default 3; 1 with
 * --quick); each run measures its raw reference right before it, and the table gives the median
 * figure, the median reference and the median of the per-run ratios.
 *
 * Options: --quick (smaller sizes), --runs N, --skip-million, --skip-scale,
 * --only a,b (sections: orchestrations, http, signals, storage, calls, million, memory, scale),
 * --profile hot|spread|chain (comma-separated; CPU time of client, worker and nats-server during the hot-counter
 * signal run and the 3-activity chains, with their raw references; nothing else is measured).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { DurableClient, EntityId } from '../src/index.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/processes.js';
import { type Baselines, RawBench } from './baseline.js';
import { type CpuProfile, formatProfile, profileCpu } from './cpu.js';
import { callLatency, type retainedMemory, settledMemory, signalThroughput } from './entities.js';
import { httpFigures } from './http.js';
import { chainLatency, chains64, fanOut, otherOrchestrationFigures } from './orchestrations.js';
import { scaleFigures } from './scale.js';
import { round, summarize } from './stats.js';
import { storageFigures } from './storage.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};
const quick = flag('--quick');
const RUNS = Number(option('--runs') ?? (quick ? 1 : 3));
const profile = option('--profile')?.split(',');
const only = option('--only')?.split(',');
const section = (name: string) => !profile && (!only || only.includes(name));
const skipMillion = flag('--skip-million');
const skipScale = flag('--skip-scale');
const N = quick ? 10_000 : 30_000;
/** Operations of the entity whose first call on a fresh worker is measured (cold load). */
const MILLION = quick ? 50_000 : 200_000;
const IDLE_STEPS = quick ? [20_000] : [20_000, 100_000];

interface Row {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  note?: string;
}
const rows: Row[] = [];
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), quick, runs: RUNS, node: process.version, argv };
const median = (xs: number[]) => summarize(xs).p50;

/**
 * A paired figure: `runs` times, the reference then the figure; returns the medians and the
 * median of the per-run ratios (figure / reference, or reference / figure for rates when `higherIsBetter`).
 */
async function paired<F, B>(
  key: string,
  reference: () => Promise<B>,
  figure: () => Promise<F>,
  ratioOf: (f: F, b: B) => number,
): Promise<{ figures: F[]; references: B[]; ratios: number[]; ratio: number }> {
  const figures: F[] = [];
  const references: B[] = [];
  const ratios: number[] = [];
  const otherLoad: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const b = await reference();
    const pids: Record<string, number> = { client: process.pid, server: server.pid, ...(worker ? { worker: worker.pid } : {}) };
    const { profile: p, result: f } = await profileCpu(pids, figure);
    references.push(b);
    figures.push(f);
    ratios.push(ratioOf(f, b));
    otherLoad.push(p.otherMs / p.wallMs);
  }
  const out = { figures, references, ratios, ratio: median(ratios), otherLoadCores: otherLoad };
  loadNotes.set(key, median(otherLoad));
  (results.paired as Record<string, unknown>)[key] = out;
  return out;
}
results.paired = {};
/** Per paired figure: the median CPU (in cores) other processes on the machine used while it ran. */
const loadNotes = new Map<string, number>();
const of = (k: number) => `median of ${k}`;

/** The current worker's output, printed when the bench fails (BENCH_WORKER_LOG=warn for more). */
let workerLog: () => string = () => '';
const server = await startNatsServer();
const nc = await connect({ servers: server.url });
const raw = await RawBench.create(nc);
/** BENCH_WORKER_NODE_ARGS: more node flags for the worker under test (e.g. --cpu-prof --cpu-prof-dir=.tmp/prof). */
const env = {
  NATS_URL: server.url,
  HUB: 'bench',
  LEASE_MS: '4000',
  LOG_LEVEL: process.env.BENCH_WORKER_LOG ?? 'error',
  NODE_ARGS: `--expose-gc ${process.env.BENCH_WORKER_NODE_ARGS ?? ''}`.trim(),
};
let worker: WorkerProcess | undefined;
let client: DurableClient | undefined;
const startWorker = async (id: string) => {
  worker = await startWorkerProcess({ ...env, WORKER_ID: id });
  const w = worker;
  workerLog = () => w.output();
  return w;
};
try {
  if (profile) await profiles(profile);
  else await figures();
} catch (e) {
  console.error(`bench failed; the worker's last output:\n${workerLog().slice(-6000)}`);
  throw e;
} finally {
  await client?.close();
  await worker?.kill('SIGTERM');
  await raw.close();
  await nc.close();
  await server.stop();
}

const widths = [52, 34, 30, 9];
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
console.log(line(['figure', 'value', 'baseline (same run)', 'ratio']));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const r of rows) console.log(line([r.figure, r.value, r.baseline, r.ratio]) + (r.note ? `  (${r.note})` : ''));
if (loadNotes.size) {
  console.log(`\nother load on the machine during the paired figures (cores busy outside client, worker and nats-server, median of the runs):`);
  console.log([...loadNotes].map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '));
}
results.rows = rows;
const dir = resolve(import.meta.dirname, import.meta.url.endsWith('.js') ? '../../bench/results' : 'results');
mkdirSync(dir, { recursive: true });
const file = resolve(dir, `bench-${profile ? 'profile-' : ''}${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(results, null, 2));
console.log(`\nwrote ${file}`);

async function connectClient(): Promise<DurableClient> {
  client = await DurableClient.connect({ servers: server.url, hub: 'bench' });
  await client.callEntity(new EntityId('counter', 'warmup'), 'add', 1, { timeoutMs: 30_000 });
  return client;
}

async function figures(): Promise<void> {
  const base: Baselines = await raw.all(N);
  results.baseline = base;
  rows.push({ figure: 'raw js.publish (256 in flight)', value: `${Math.round(base.publishPerSec)}/s`, baseline: '-', ratio: '-' });
  rows.push({ figure: 'raw lean publish (1024 in flight)', value: `${Math.round(base.leanPublishPerSec)}/s`, baseline: '-', ratio: '-' });
  rows.push({ figure: 'raw publish latency p50/p99', value: `${round(base.publishLatencyMs.p50, 3)}/${round(base.publishLatencyMs.p99, 3)} ms`, baseline: '-', ratio: '-' });
  rows.push({ figure: 'raw pull consume + ack', value: `${Math.round(base.consumePerSec)}/s`, baseline: '-', ratio: '-' });
  rows.push({
    figure: 'raw call (request -> fenced publish -> reply) p50/p99',
    value: `${round(base.rawCallMs.p50, 3)}/${round(base.rawCallMs.p99, 3)} ms`,
    baseline: '-',
    ratio: '-',
  });
  rows.push({ figure: 'raw calls, 64 concurrent callers', value: `${Math.round(base.rawCalls64PerSec)}/s`, baseline: '-', ratio: '-' });
  const pub = base.publishLatencyMs.p50;
  const ms = (x: { p50: number; p99: number }) => `${round(x.p50, 2)}/${round(x.p99, 2)} ms`;

  await startWorker('bench-1');
  const client = await connectClient();

  if (section('orchestrations')) {
    await chainLatency(client, 3, 20); // warm up
    const chain = await paired(
      'chain3',
      () => raw.rawCall(1_000),
      () => chainLatency(client, 3, quick ? 50 : 200),
      (f, b) => f.p50 / b.p50,
    );
    rows.push({
      figure: `3-activity chain p50/p99 (${of(RUNS)})`,
      value: `${round(median(chain.figures.map((f) => f.p50)), 2)}/${round(median(chain.figures.map((f) => f.p99)), 2)} ms`,
      baseline: `${round(median(chain.references.map((b) => b.p50)), 3)} ms raw call p50`,
      ratio: `${chain.ratio.toFixed(1)}x`,
    });
    const c64 = await paired(
      'chains64',
      () => raw.rawCalls64(quick ? 3_200 : 12_800),
      () => chains64(client, quick ? 640 : 3_200),
      (f, b) => f / b,
    );
    rows.push({
      figure: `3-activity chains, 64 concurrent clients (${of(RUNS)})`,
      value: `${Math.round(median(c64.figures))} chains/s`,
      baseline: `${Math.round(median(c64.references))}/s raw calls x64`,
      ratio: `${c64.ratio.toFixed(3)}x`,
    });
    const fan = await paired(
      'fanOut1000',
      () => raw.leanPublish(N),
      () => fanOut(client, 1_000),
      (f, b) => 1_000 / (f / 1000) / b,
    );
    const fanMs = median(fan.figures);
    rows.push({
      figure: `fan-out/fan-in of 1000 activities (${of(RUNS)})`,
      value: `${Math.round(fanMs)} ms (${Math.round(1_000 / (fanMs / 1000))} activities/s)`,
      baseline: `${Math.round(median(fan.references))}/s lean publish`,
      ratio: `${fan.ratio.toFixed(3)}x`,
    });
    const orch = await otherOrchestrationFigures(client, quick);
    results.orchestrations = orch;
    rows.push({
      figure: '5-activity chain p50/p99',
      value: ms(orch.chain5Ms),
      baseline: `${round(base.rawCallMs.p50, 3)} ms raw call p50`,
      ratio: `${(orch.chain5Ms.p50 / base.rawCallMs.p50).toFixed(1)}x`,
    });
    rows.push({
      figure: `hello-sequence throughput (${quick ? 300 : 1000} concurrent)`,
      value: `${Math.round(orch.helloPerSec)} orchestrations/s`,
      baseline: `${Math.round(base.publishPerSec)}/s publish`,
      ratio: `${round(orch.helloPerSec / base.publishPerSec, 3).toFixed(3)}x`,
    });
    for (const [n, t] of Object.entries(orch.fanOutMs)) {
      const perSec = Number(n) / (t / 1000);
      rows.push({
        figure: `fan-out/fan-in of ${n} activities`,
        value: `${Math.round(t)} ms (${Math.round(perSec)} activities/s)`,
        baseline: `${Math.round(base.leanPublishPerSec)}/s lean publish`,
        ratio: `${round(perSec / base.leanPublishPerSec, 3).toFixed(3)}x`,
      });
    }
    rows.push({
      figure: 'raiseEvent to completion p50/p99',
      value: ms(orch.eventToResumeMs),
      baseline: `${round(pub, 3)} ms publish p50`,
      ratio: `${(orch.eventToResumeMs.p50 / pub).toFixed(1)}x`,
    });
    rows.push({ figure: 'durable timer lag p50/p99', value: ms(orch.timerLagMs), baseline: '0 ms ideal', ratio: '-' });
  }

  if (section('http')) {
    const web = await httpFigures(client, quick ? 50 : 200);
    results.http = web;
    rows.push({
      figure: 'HTTP start + complete (hello) p50/p99',
      value: ms(web.httpStartCompleteMs),
      baseline: `client ${ms(web.clientStartCompleteMs)}`,
      ratio: `${(web.httpStartCompleteMs.p50 / web.clientStartCompleteMs.p50).toFixed(2)}x`,
    });
    rows.push({
      figure: `HTTP status reads (${web.statusReadsLoad})`,
      value: `${Math.round(web.statusReadsPerSec)}/s`,
      baseline: `${Math.round(base.publishPerSec)}/s publish`,
      ratio: `${(web.statusReadsPerSec / base.publishPerSec).toFixed(2)}x`,
    });
  }

  if (section('signals')) {
    let run = 0;
    const hot = await paired(
      'hotSignals',
      () => raw.leanPublish(N),
      () => {
        const key = `hot-${run++}`;
        return signalThroughput(client, () => key, N, [key]);
      },
      (f, b) => f / b,
    );
    rows.push({
      figure: `signals to 1 hot entity (${N}, ${of(RUNS)})`,
      value: `${Math.round(median(hot.figures))}/s`,
      baseline: `${Math.round(median(hot.references))}/s lean publish`,
      ratio: `${hot.ratio.toFixed(2)}x`,
    });
    const spreadKeys = 1_000;
    const spread = await paired(
      'spreadSignals',
      () => raw.leanPublish(N),
      () =>
        signalThroughput(
          client,
          (i) => `s${i % spreadKeys}`,
          N,
          Array.from({ length: 50 }, (_, i) => `s${i}`),
        ),
      (f, b) => f / b,
    );
    rows.push({
      figure: `signals over ${spreadKeys} entities (${N}, ${of(RUNS)})`,
      value: `${Math.round(median(spread.figures))}/s`,
      baseline: `${Math.round(median(spread.references))}/s lean publish`,
      ratio: `${spread.ratio.toFixed(2)}x`,
    });
  }

  if (section('storage')) {
    const storage = await storageFigures(client, N, quick ? 4 : 10);
    results.storage = storage;
    rows.push({ figure: 'event-stream bytes written per signal (1,000 counters)', value: `${round(storage.bytesPerSignal, 1)} B`, baseline: '-', ratio: '-' });
    const [first, last] = [storage.rounds[0]!, storage.rounds[storage.rounds.length - 1]!];
    const mid = storage.rounds[Math.floor(storage.rounds.length / 2)]!;
    rows.push({
      figure: `hub bytes under sustained load (${storage.rounds.length} rounds of ${N})`,
      value: `${(first.hubBytes / 2 ** 20).toFixed(1)} -> ${(mid.hubBytes / 2 ** 20).toFixed(1)} -> ${(last.hubBytes / 2 ** 20).toFixed(1)} MiB`,
      baseline: `after ${first.signals} / ${mid.signals} / ${last.signals} signals`,
      ratio: round(last.hubBytes / mid.hubBytes).toFixed(2),
      note: 'ratio last/middle round: 1.00 = no more growth (retention: 100 versions per entity)',
    });
  }

  if (section('calls')) {
    await callLatency(client, 200, 1); // warm up
    const seq = await paired(
      'callSequential',
      () => raw.rawCall(2_000),
      () => callLatency(client, 2_000, 1),
      (f, b) => f.p50 / b.p50,
    );
    const p99Ratio = median(seq.figures.map((f, i) => f.p99 / seq.references[i]!.p99));
    rows.push({
      figure: `callEntity sequential p50/p99 (${of(RUNS)})`,
      value: `${round(median(seq.figures.map((f) => f.p50)), 3)}/${round(median(seq.figures.map((f) => f.p99)), 3)} ms`,
      baseline: `raw call ${round(median(seq.references.map((b) => b.p50)), 3)}/${round(median(seq.references.map((b) => b.p99)), 3)} ms`,
      ratio: `${seq.ratio.toFixed(2)}/${p99Ratio.toFixed(2)}x`,
    });
    const c64 = await paired(
      'call64',
      () => raw.rawCalls64(12_800),
      () => callLatency(client, 12_800, 64),
      (f, b) => f.perSec / b,
    );
    rows.push({
      figure: `callEntity 64 concurrent p50/p99 (${of(RUNS)})`,
      value: `${round(median(c64.figures.map((f) => f.p50)), 2)}/${round(median(c64.figures.map((f) => f.p99)), 2)} ms (${Math.round(median(c64.figures.map((f) => f.perSec)))}/s)`,
      baseline: `${Math.round(median(c64.references))}/s raw calls x64`,
      ratio: `${c64.ratio.toFixed(2)}x`,
    });
  }

  if (section('million') && !skipMillion) await firstCall(client);
  if (section('memory')) await memory(client);

  await client.close();
  await worker?.kill('SIGTERM');
  worker = undefined;
  if (section('scale') && !skipScale) await scale(base);
}

/** First call to a MILLION-operation entity on a fresh worker (cold load), paired with the raw call p50. */
async function firstCall(client: DurableClient): Promise<void> {
  const t0 = performance.now();
  await signalThroughput(client, () => 'million', MILLION, ['million']);
  const fillSec = (performance.now() - t0) / 1000;
  let value = 0;
  let r = 0;
  const first = await paired(
    'firstCall',
    async () => (await raw.rawCall(500)).p50,
    async () => {
      await worker!.kill('SIGTERM');
      await startWorker(`bench-cold-${r++}`);
      await client.callEntity(new EntityId('counter', 'warmup'), 'get', undefined, { timeoutMs: 30_000 });
      const t = performance.now();
      value = await client.callEntity<number>(new EntityId('counter', 'million'), 'get');
      return performance.now() - t;
    },
    (f, b) => f / b,
  );
  if (value !== MILLION) throw new Error(`million entity has ${value}, expected ${MILLION}`);
  const reads: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await client.readEntityState(new EntityId('counter', 'million'));
    reads.push(performance.now() - t);
  }
  const warm: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await client.callEntity(new EntityId('counter', 'million'), 'get');
    warm.push(performance.now() - t);
  }
  const firstCallMs = median(first.figures);
  rows.push({
    figure: `first call to a ${MILLION}-op entity, fresh worker (${of(RUNS)})`,
    value: `${round(firstCallMs, 2)} ms`,
    baseline: `${round(median(first.references), 3)} ms raw call p50`,
    ratio: `${first.ratio.toFixed(2)}x`,
    note: `warm call ${round(median(warm), 3)} ms; filled at ${Math.round(MILLION / fillSec)}/s`,
  });
  rows.push({
    figure: 'readEntityState of it (p50 of 20)',
    value: `${round(median(reads), 2)} ms`,
    baseline: `${round(median(first.references), 3)} ms raw call p50`,
    ratio: `${(median(reads) / median(first.references)).toFixed(2)}x`,
  });
  results.coldLoad = { operations: MILLION, firstCallMs, readStateMs: median(reads), warmCallMs: median(warm), fillPerSec: MILLION / fillSec };
}

/**
 * Worker RSS with idle entities: per run a fresh worker (compiled JS), its RSS when idle, then
 * after each step of distinct entities touched once (a signal each), all after a full GC.
 */
async function memory(client: DurableClient): Promise<void> {
  type Mem = Awaited<ReturnType<typeof retainedMemory>>;
  const runs: Array<{ idle: Mem; steps: Array<{ entities: number; afterLoadRssMb: number; settleSeconds: number } & Mem> }> = [];
  for (let r = 0; r < RUNS; r++) {
    await worker?.kill('SIGTERM');
    const w = await startWorker(`bench-mem-${r}`);
    await client.callEntity(new EntityId('counter', 'warmup'), 'get', undefined, { timeoutMs: 30_000 });
    await new Promise((res) => setTimeout(res, 500));
    const idle = (await settledMemory(w)).settled;
    const steps: Array<{ entities: number; afterLoadRssMb: number; settleSeconds: number } & Mem> = [];
    let touched = 0;
    for (const target of IDLE_STEPS) {
      const from = touched;
      await signalThroughput(client, (i) => `idle-${r}-${from + i}`, target - from, [`idle-${r}-${target - 1}`]);
      touched = target;
      const m = await settledMemory(w);
      steps.push({ entities: target, ...m.settled, afterLoadRssMb: m.first.rssMb, settleSeconds: m.seconds });
    }
    runs.push({ idle, steps });
  }
  results.rss = runs;
  const idleRss = median(runs.map((x) => x.idle.rssMb));
  rows.push({
    figure: `worker RSS, fresh idle worker (settled, ${of(RUNS)})`,
    value: `${Math.round(idleRss)} MiB (heap ${Math.round(median(runs.map((x) => x.idle.heapMb)))} MiB)`,
    baseline: '-',
    ratio: '-',
  });
  IDLE_STEPS.forEach((target, i) => {
    const rss = median(runs.map((x) => x.steps[i]!.rssMb));
    rows.push({
      figure: `worker RSS with ${target} idle entities (settled, ${of(RUNS)})`,
      value: `${Math.round(rss)} MiB (heap ${Math.round(median(runs.map((x) => x.steps[i]!.heapMb)))} MiB)`,
      baseline: `${Math.round(idleRss)} MiB idle worker`,
      ratio: `${median(runs.map((x) => x.steps[i]!.rssMb / x.idle.rssMb)).toFixed(2)}x`,
      note: `+${round(((rss - idleRss) * 2 ** 20) / target / 1024, 2)} KiB per entity; right after the load ${Math.round(median(runs.map((x) => x.steps[i]!.afterLoadRssMb)))} MiB; external ${Math.round(median(runs.map((x) => x.steps[i]!.externalMb ?? 0)))} MiB, array buffers ${Math.round(median(runs.map((x) => x.steps[i]!.arrayBuffersMb ?? 0)))} MiB`,
    });
  });
}

async function scale(base: Baselines): Promise<void> {
  const scale = (await scaleFigures(server.url)) as {
    workers: Record<string, { signalsPerSec: number; helloPerSec: number; callP50Ms: number }>;
    recoveryAfterWorkerKill: { leaseMs: number; firstProgressMs: number };
    r1VsR3: { r1: { signalsPerSec: number; helloPerSec: number; callP50Ms: number }; r3ThreeNodeCluster: { signalsPerSec: number; helloPerSec: number; callP50Ms: number } };
  };
  results.scale = scale;
  for (const [n, f] of Object.entries(scale.workers)) {
    rows.push({
      figure: `${n} worker process(es): signals / hello / call p50`,
      value: `${f.signalsPerSec}/s, ${f.helloPerSec}/s, ${f.callP50Ms} ms`,
      baseline: `${Math.round(base.leanPublishPerSec)}/s lean publish`,
      ratio: `${(f.signalsPerSec / base.leanPublishPerSec).toFixed(2)}x`,
    });
  }
  const r = scale.recoveryAfterWorkerKill;
  rows.push({
    figure: 'recovery after SIGKILL of 1 of 2 workers',
    value: `${r.firstProgressMs} ms to progress`,
    baseline: `lease ${r.leaseMs} ms`,
    ratio: `${(r.firstProgressMs / r.leaseMs).toFixed(2)}x`,
  });
  const { r1, r3ThreeNodeCluster: r3 } = scale.r1VsR3;
  rows.push({
    figure: 'R3 (3-node cluster) vs R1: signals / hello / call p50',
    value: `${r3.signalsPerSec}/s, ${r3.helloPerSec}/s, ${r3.callP50Ms} ms`,
    baseline: `R1 ${r1.signalsPerSec}/s, ${r1.helloPerSec}/s, ${r1.callP50Ms} ms`,
    ratio: `${(r3.signalsPerSec / r1.signalsPerSec).toFixed(2)}x`,
  });
}

/**
 * --profile: CPU time of client, worker and nats-server (from /proc) during the raw reference and
 * the figure, `RUNS` times each; the run whose figure is the median is printed and kept.
 */
async function profiles(which: string[]): Promise<void> {
  const w = await startWorker('bench-profile');
  const client = await connectClient();
  const pids = { client: process.pid, worker: w.pid, server: server.pid };
  const rawPids = { client: process.pid, server: server.pid };
  const out: Record<string, unknown> = {};
  const record = (name: string, runs: Array<{ profile: CpuProfile; value: number }>, ops: number, unit: string, value: (v: number) => string) => {
    const sorted = [...runs].sort((a, b) => a.value - b.value);
    const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
    out[name] = { runs, ops, unit };
    rows.push({ figure: name, value: value(mid.value), baseline: `${of(runs.length)}`, ratio: '-', note: formatProfile(mid.profile, { ops, unit }) });
  };
  if (which.includes('hot')) {
    const lean: Array<{ profile: CpuProfile; value: number }> = [];
    const hot: Array<{ profile: CpuProfile; value: number }> = [];
    for (let r = 0; r < RUNS; r++) {
      const l = await profileCpu(rawPids, () => raw.leanPublish(N));
      lean.push({ profile: l.profile, value: l.result });
      const h = await profileCpu(pids, () => signalThroughput(client, () => `hot-p${r}`, N, [`hot-p${r}`]));
      hot.push({ profile: h.profile, value: h.result });
    }
    record(`raw lean publish (${N})`, lean, N, 'msg', (v) => `${Math.round(v)}/s`);
    record(`signals to 1 hot entity (${N})`, hot, N, 'signal', (v) => `${Math.round(v)}/s`);
  }
  if (which.includes('spread')) {
    const spread: Array<{ profile: CpuProfile; value: number }> = [];
    for (let r = 0; r < RUNS; r++) {
      const keys = (i: number) => `spread-p${r}-${i % 1000}`;
      const s = await profileCpu(pids, () => signalThroughput(client, keys, N, [keys(0), keys(999)]));
      spread.push({ profile: s.profile, value: s.result });
    }
    record(`signals over 1000 entities (${N})`, spread, N, 'signal', (v) => `${Math.round(v)}/s`);
  }
  if (which.includes('chain')) {
    const count = quick ? 50 : 200;
    await chainLatency(client, 3, 20); // warm up
    await raw.rawCall(50); // starts the raw host (and warms it) outside the profiled runs
    const calls: Array<{ profile: CpuProfile; value: number }> = [];
    const seq: Array<{ profile: CpuProfile; value: number }> = [];
    const conc: Array<{ profile: CpuProfile; value: number }> = [];
    const many = quick ? 640 : 3_200;
    for (let r = 0; r < RUNS; r++) {
      const c = await profileCpu(rawPids, () => raw.rawCall(count * 10));
      calls.push({ profile: c.profile, value: c.result.p50 });
      const s = await profileCpu(pids, () => chainLatency(client, 3, count));
      seq.push({ profile: s.profile, value: s.result.p50 });
      const m = await profileCpu(pids, () => chains64(client, many));
      conc.push({ profile: m.profile, value: m.result });
    }
    record(`raw call, one at a time (${count * 10})`, calls, count * 10, 'call', (v) => `p50 ${round(v, 3)} ms`);
    record(`3-activity chain, one at a time (${count})`, seq, count, 'chain', (v) => `p50 ${round(v, 2)} ms`);
    record(`3-activity chains, 64 concurrent (${many})`, conc, many, 'chain', (v) => `${Math.round(v)} chains/s`);
  }
  results.profile = out;
}
