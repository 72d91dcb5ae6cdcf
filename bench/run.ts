/**
 * `npm run bench`: one fresh nats-server, raw JetStream baselines, then durable-nats figures
 * measured against them in the same run. Prints a table, writes JSON to bench/results/.
 * Options: --quick (smaller sizes), --skip-million (no 1M-operation cold load).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { DurableClient, EntityId } from '../src/index.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { startWorkerProcess } from '../test/helpers/processes.js';
import { measureBaselines } from './baseline.js';
import { callLatency, retainedMemory, signalThroughput } from './entities.js';
import { httpFigures } from './http.js';
import { orchestrationFigures } from './orchestrations.js';
import { scaleFigures } from './scale.js';
import { storageFigures } from './storage.js';
import { round, summarize } from './stats.js';

const quick = process.argv.includes('--quick');
const skipMillion = process.argv.includes('--skip-million');
const skipScale = process.argv.includes('--skip-scale');
const N = quick ? 10_000 : 30_000;
/** Operations of the entity whose first call on a fresh worker is measured (cold load). */
const MILLION = quick ? 50_000 : 200_000;
const IDLE_STEPS = quick ? [20_000] : [20_000, 100_000];
/** Runs `fn` `times` times and returns the median (throughput figures: these machines are noisy). */
async function median(times: number, fn: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < times; i++) xs.push(await fn());
  return summarize(xs).p50;
}
const RUNS = quick ? 1 : 3;

interface Row {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  note?: string;
}
const rows: Row[] = [];
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), quick, node: process.version };

/** The current worker's output, printed when the bench fails (BENCH_WORKER_LOG=warn for more). */
let workerLog: () => string = () => '';
const server = await startNatsServer();
const nc = await connect({ servers: server.url });
try {
  const base = await measureBaselines(nc, N);
  results.baseline = base;
  rows.push({ figure: 'raw js.publish (256 in flight)', value: `${Math.round(base.publishPerSec)}/s`, baseline: '-', ratio: '1.00' });
  rows.push({ figure: 'raw lean publish (1024 in flight)', value: `${Math.round(base.leanPublishPerSec)}/s`, baseline: '-', ratio: '-' });
  rows.push({ figure: 'raw publish latency p50/p99', value: `${round(base.publishLatencyMs.p50, 3)}/${round(base.publishLatencyMs.p99, 3)} ms`, baseline: '-', ratio: '1.00' });
  rows.push({ figure: 'raw pull consume + ack', value: `${Math.round(base.consumePerSec)}/s`, baseline: '-', ratio: '-' });
  rows.push({
    figure: 'raw call (request -> fenced publish -> reply) p50/p99',
    value: `${round(base.rawCallMs.p50, 3)}/${round(base.rawCallMs.p99, 3)} ms`,
    baseline: '-',
    ratio: '-',
  });
  rows.push({ figure: 'raw calls, 64 concurrent callers', value: `${Math.round(base.rawCalls64PerSec)}/s`, baseline: '-', ratio: '-' });
  const lean = base.leanPublishPerSec;
  const rawCall = base.rawCallMs.p50;

  const env = { NATS_URL: server.url, HUB: 'bench', LEASE_MS: '4000', LOG_LEVEL: process.env.BENCH_WORKER_LOG ?? 'error', NODE_ARGS: '--expose-gc' };
  let worker = await startWorkerProcess({ ...env, WORKER_ID: 'bench-1' });
  workerLog = () => worker.output();
  const client = await DurableClient.connect({ servers: server.url, hub: 'bench' });
  await client.callEntity(new EntityId('counter', 'warmup'), 'add', 1, { timeoutMs: 30_000 });
  const idleMem = await retainedMemory(worker);

  const orch = await orchestrationFigures(client, quick);
  results.orchestrations = orch;
  const pub = base.publishLatencyMs.p50;
  const ms = (x: { p50: number; p99: number }) => `${round(x.p50, 2)}/${round(x.p99, 2)} ms`;
  rows.push({
    figure: '3-activity chain p50/p99',
    value: ms(orch.chain3Ms),
    baseline: `${round(rawCall, 3)} ms raw call p50`,
    ratio: round(orch.chain3Ms.p50 / rawCall).toFixed(1),
  });
  rows.push({
    figure: '5-activity chain p50/p99',
    value: ms(orch.chain5Ms),
    baseline: `${round(rawCall, 3)} ms raw call p50`,
    ratio: round(orch.chain5Ms.p50 / rawCall).toFixed(1),
  });
  rows.push({
    figure: '3-activity chains, 64 concurrent clients',
    value: `${Math.round(orch.chains64PerSec)} chains/s`,
    baseline: `${Math.round(base.rawCalls64PerSec)}/s raw calls x64`,
    ratio: round(orch.chains64PerSec / base.rawCalls64PerSec, 3).toFixed(3),
  });
  rows.push({
    figure: `hello-sequence throughput (${quick ? 300 : 1000} concurrent)`,
    value: `${Math.round(orch.helloPerSec)} orchestrations/s`,
    baseline: `${Math.round(base.publishPerSec)}/s publish`,
    ratio: round(orch.helloPerSec / base.publishPerSec, 3).toFixed(3),
  });
  for (const [n, t] of Object.entries(orch.fanOutMs)) {
    const perSec = Number(n) / (t / 1000);
    rows.push({
      figure: `fan-out/fan-in of ${n} activities`,
      value: `${Math.round(t)} ms (${Math.round(perSec)} activities/s)`,
      baseline: `${Math.round(lean)}/s lean publish`,
      ratio: round(perSec / lean, 3).toFixed(3),
    });
  }
  rows.push({
    figure: 'raiseEvent to completion p50/p99',
    value: ms(orch.eventToResumeMs),
    baseline: `${round(pub, 3)} ms publish p50`,
    ratio: round(orch.eventToResumeMs.p50 / pub).toFixed(1),
  });
  rows.push({ figure: 'durable timer lag p50/p99', value: ms(orch.timerLagMs), baseline: '0 ms ideal', ratio: '-' });

  const web = await httpFigures(client, quick ? 50 : 200);
  results.http = web;
  rows.push({
    figure: 'HTTP start + complete (hello) p50/p99',
    value: ms(web.httpStartCompleteMs),
    baseline: `client ${ms(web.clientStartCompleteMs)}`,
    ratio: round(web.httpStartCompleteMs.p50 / web.clientStartCompleteMs.p50).toFixed(2),
  });
  rows.push({
    figure: `HTTP status reads (${web.statusReadsLoad})`,
    value: `${Math.round(web.statusReadsPerSec)}/s`,
    baseline: `${Math.round(base.publishPerSec)}/s publish`,
    ratio: round(web.statusReadsPerSec / base.publishPerSec).toFixed(2),
  });

  let run = 0;
  const hot = await median(RUNS, () => signalThroughput(client, () => `hot-${run++}`, N, [`hot-${run - 1}`]));
  rows.push({
    figure: `signals to 1 hot entity (${N}, median of ${RUNS})`,
    value: `${Math.round(hot)}/s`,
    baseline: `${Math.round(lean)}/s lean publish`,
    ratio: round(hot / lean).toFixed(2),
  });
  const spreadKeys = 1_000;
  const spread = await median(RUNS, () =>
    signalThroughput(
      client,
      (i) => `s${i % spreadKeys}`,
      N,
      Array.from({ length: 50 }, (_, i) => `s${i}`),
    ),
  );
  rows.push({
    figure: `signals over ${spreadKeys} entities (${N}, median of ${RUNS})`,
    value: `${Math.round(spread)}/s`,
    baseline: `${Math.round(lean)}/s lean publish`,
    ratio: round(spread / lean).toFixed(2),
  });

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

  const seq = await callLatency(client, 2_000, 1);
  rows.push({
    figure: 'callEntity sequential p50/p99',
    value: `${round(seq.p50, 3)}/${round(seq.p99, 3)} ms`,
    baseline: `raw call ${round(rawCall, 3)}/${round(base.rawCallMs.p99, 3)} ms`,
    ratio: `${round(seq.p50 / rawCall).toFixed(2)}/${round(seq.p99 / base.rawCallMs.p99).toFixed(2)}`,
  });
  const c64 = await callLatency(client, 12_800, 64);
  rows.push({
    figure: 'callEntity 64 concurrent p50/p99',
    value: `${round(c64.p50, 2)}/${round(c64.p99, 2)} ms (${Math.round(c64.perSec)}/s)`,
    baseline: `${Math.round(base.rawCalls64PerSec)}/s raw calls x64`,
    ratio: round(c64.perSec / base.rawCalls64PerSec).toFixed(2),
  });
  results.entities = { hot, spread, callSequential: seq, call64: c64 };

  if (!skipMillion) {
    const t0 = performance.now();
    await signalThroughput(client, () => 'million', MILLION, ['million']);
    const fillSec = (performance.now() - t0) / 1000;
    // Cold = a fresh worker process that has never seen the entity; median of 3 restarts.
    const firsts: number[] = [];
    let value = 0;
    for (let r = 0; r < 3; r++) {
      await worker.kill('SIGTERM');
      worker = await startWorkerProcess({ ...env, WORKER_ID: `bench-cold-${r}` });
      await client.callEntity(new EntityId('counter', 'warmup'), 'get', undefined, { timeoutMs: 30_000 });
      const t = performance.now();
      value = await client.callEntity<number>(new EntityId('counter', 'million'), 'get');
      firsts.push(performance.now() - t);
    }
    const firstCallMs = summarize(firsts).p50;
    const reads: number[] = [];
    for (let r = 0; r < 20; r++) {
      const t = performance.now();
      await client.readEntityState(new EntityId('counter', 'million'));
      reads.push(performance.now() - t);
    }
    const readStateMs = summarize(reads).p50;
    const warm = summarize(
      await (async () => {
        const xs: number[] = [];
        for (let r = 0; r < 20; r++) {
          const t1 = performance.now();
          await client.callEntity(new EntityId('counter', 'million'), 'get');
          xs.push(performance.now() - t1);
        }
        return xs;
      })(),
    );
    if (value !== MILLION) throw new Error(`million entity has ${value}, expected ${MILLION}`);
    rows.push({
      figure: `first call to a ${MILLION}-op entity on a fresh worker`,
      value: `${round(firstCallMs, 2)} ms`,
      baseline: `${round(rawCall, 3)} ms raw call p50`,
      ratio: round(firstCallMs / rawCall).toFixed(2),
      note: `warm call ${round(warm.p50, 3)} ms; filled at ${Math.round(MILLION / fillSec)}/s`,
    });
    rows.push({
      figure: 'readEntityState of it (p50 of 20)',
      value: `${round(readStateMs, 2)} ms`,
      baseline: `${round(base.publishLatencyMs.p50, 3)} ms publish p50`,
      ratio: round(readStateMs / base.publishLatencyMs.p50).toFixed(2),
    });
    results.coldLoad = { operations: MILLION, firstCallMs, readStateMs, warmCallMs: warm.p50, fillPerSec: MILLION / fillSec };
  }

  const before = await retainedMemory(worker);
  const rss: Array<{ entities: number; rssMb: number; heapMb: number }> = [];
  let touched = 0;
  for (const target of IDLE_STEPS) {
    const from = touched;
    await signalThroughput(client, (i) => `idle-${from + i}`, target - from, [`idle-${target - 1}`]);
    touched = target;
    await new Promise((r) => setTimeout(r, 1_000));
    const after = await retainedMemory(worker);
    rss.push({ entities: target, ...after });
    rows.push({
      figure: `worker RSS with ${target} idle entities (after GC)`,
      value: `${Math.round(after.rssMb)} MiB (heap ${Math.round(after.heapMb)} MiB)`,
      baseline: `${Math.round(before.rssMb)} MiB before`,
      ratio: round(after.rssMb / before.rssMb).toFixed(2),
      note: `fresh idle worker: ${Math.round(idleMem.rssMb)} MiB, heap ${Math.round(idleMem.heapMb)} MiB`,
    });
  }
  results.rss = { idleWorker: idleMem, before, steps: rss };

  await client.close();
  await worker.kill('SIGTERM');

  if (!skipScale) {
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
        baseline: `${Math.round(base.publishPerSec)}/s publish`,
        ratio: round(f.signalsPerSec / base.publishPerSec).toFixed(2),
      });
    }
    const r = scale.recoveryAfterWorkerKill;
    rows.push({
      figure: 'recovery after SIGKILL of 1 of 2 workers',
      value: `${r.firstProgressMs} ms to progress`,
      baseline: `lease ${r.leaseMs} ms`,
      ratio: round(r.firstProgressMs / r.leaseMs).toFixed(2),
    });
    const { r1, r3ThreeNodeCluster: r3 } = scale.r1VsR3;
    rows.push({
      figure: 'R3 (3-node cluster) vs R1: signals / hello / call p50',
      value: `${r3.signalsPerSec}/s, ${r3.helloPerSec}/s, ${r3.callP50Ms} ms`,
      baseline: `R1 ${r1.signalsPerSec}/s, ${r1.helloPerSec}/s, ${r1.callP50Ms} ms`,
      ratio: round(r3.signalsPerSec / r1.signalsPerSec).toFixed(2),
    });
  }
} catch (e) {
  console.error(`bench failed; the worker's last output:\n${workerLog().slice(-6000)}`);
  throw e;
} finally {
  await nc.close();
  await server.stop();
}

const widths = [48, 34, 26, 6];
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
console.log(line(['figure', 'value', 'baseline (same run)', 'ratio']));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const r of rows) console.log(line([r.figure, r.value, r.baseline, r.ratio]) + (r.note ? `  (${r.note})` : ''));
results.rows = rows;
const dir = resolve(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const file = resolve(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(results, null, 2));
console.log(`\nwrote ${file}`);
