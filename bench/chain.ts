/**
 * `npx tsx bench/chain.ts [--rounds 3] [--seq 200] [--c64 1280]`: the 3-activity chain figures
 * alone (issue 10), each round beside a fresh raw-call baseline on the same server: sequential
 * p50/p99 as a ratio to the raw call p50, and 64 concurrent chains/s as a ratio to raw calls/s
 * with 64 callers. Medians over the rounds. Worker in its own process (WORKER_NODE_ARGS, e.g.
 * --cpu-prof, to profile it).
 */
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { DurableClient } from '../src/index.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { startWorkerProcess } from '../test/helpers/processes.js';
import { rawCalls } from './baseline.js';
import { pipelined, round, sequentialLatency, summarize } from './stats.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('rounds', 3);
const SEQ = arg('seq', 200);
const C64 = arg('c64', 1280);

/** CPU ms (user + system) of a process so far, from /proc (clock ticks of 10 ms). */
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const server = await startNatsServer();
const nc = await connect({ servers: server.url });
const worker = await startWorkerProcess({ NATS_URL: server.url, HUB: 'bench', LEASE_MS: '4000', LOG_LEVEL: 'error' });
const client = await DurableClient.connect({ servers: server.url, hub: 'bench' });
const run = async (n: number) => {
  const id = await client.startNew('chain', { input: { n } });
  return client.waitForCompletion(id, { timeoutMs: 60_000 });
};
const rows: Array<{ raw: number; raw64: number; p50: number; p99: number; perSec: number; cpu: { worker: number; server: number; client: number } }> = [];
try {
  for (let i = 0; i < 20; i++) await run(3); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    const base = await rawCalls(nc, 12_800);
    const seq = await sequentialLatency(SEQ, () => run(3));
    const c0 = { worker: cpuOf(worker.pid), server: cpuOf(server.pid), client: process.cpuUsage() };
    const t0 = performance.now();
    await pipelined(C64, 64, () => run(3));
    const perSec = C64 / ((performance.now() - t0) / 1000);
    const cu = process.cpuUsage(c0.client);
    // CPU ms per chain in each process: robust to a loaded machine, unlike wall time.
    const cpu = { worker: (cpuOf(worker.pid) - c0.worker) / C64, server: (cpuOf(server.pid) - c0.server) / C64, client: (cu.user + cu.system) / 1000 / C64 };
    const row = { raw: base.rawCallMs.p50, raw64: base.rawCalls64PerSec, p50: seq.p50, p99: seq.p99, perSec, cpu };
    rows.push(row);
    console.log(
      `round ${r}: raw call p50 ${round(row.raw, 3)} ms, x64 ${Math.round(row.raw64)}/s | chain p50/p99 ${round(row.p50)}/${round(row.p99)} ms = ${round(row.p50 / row.raw, 1)}x | 64 chains ${Math.round(perSec)}/s = ${round(perSec / row.raw64, 3)}x | cpu ms/chain worker ${round(cpu.worker, 3)} server ${round(cpu.server, 3)} client ${round(cpu.client, 3)}`,
    );
  }
  const med = (f: (x: (typeof rows)[number]) => number) => summarize(rows.map(f)).p50;
  console.log(
    `MEDIAN chain p50 ${round(med((x) => x.p50))} ms ratio ${round(
      med((x) => x.p50 / x.raw),
      2,
    )}x | 64 chains ${Math.round(med((x) => x.perSec))}/s ratio ${round(
      med((x) => x.perSec / x.raw64),
      3,
    )}x`,
  );
} finally {
  await client.close();
  await worker.kill('SIGTERM');
  await nc.close();
  await server.stop();
}
