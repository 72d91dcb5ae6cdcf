/** Per-hop timestamps of 3-activity chains (temporary instrumentation: HOPS=1). argv: count concurrency */
import { DurableClient } from '../src/index.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { startWorkerProcess } from '../test/helpers/processes.js';
import { pipelined } from './stats.js';

const N = Number(process.argv[2] ?? 50);
const C = Number(process.argv[3] ?? 1);
const lines: string[] = [];
(globalThis as any).__hop = (n: string) => lines.push(`HOP ${(performance.timeOrigin + performance.now()).toFixed(3)} ${n}`);
const server = await startNatsServer();
const worker = await startWorkerProcess({ NATS_URL: server.url, HUB: 'bench', LEASE_MS: '4000', LOG_LEVEL: 'error', HOPS: '1' });
const client = await DurableClient.connect({ servers: server.url, hub: 'bench' });
const hop = (globalThis as any).__hop;
const warm = 20;
try {
  await pipelined(warm + N, C, async (i) => {
    const t0 = performance.timeOrigin + performance.now();
    const id = await client.startNew('chain', { input: { n: 3 } });
    if (i >= warm) lines.push(`HOP ${t0.toFixed(3)} c.startNew ${id}`);
    hop(`c.started ${id}`);
    await client.waitForCompletion(id, { timeoutMs: 60_000 });
    hop(`c.completed ${id}`);
    if (C === 1) await new Promise((r) => setTimeout(r, 10));
  });
} finally {
  await client.close();
  await worker.kill('SIGTERM');
  await server.stop();
}
const byId = new Map<string, Array<{ t: number; n: string }>>();
for (const l of [
  ...lines,
  ...worker
    .output()
    .split('\n')
    .filter((l) => l.startsWith('HOP')),
]) {
  const parts = l.split(' ');
  const id = parts.find((p, i) => i > 1 && /^[0-9a-f]{32}$/.test(p)) ?? (parts.find((p) => /\.o\.[0-9a-f]{32}$/.test(p)) ?? '').replace(/.*\.o\./, '');
  if (!id) continue;
  const name = parts
    .slice(2)
    .filter((p) => p !== id)
    .join(' ')
    .replace(/[0-9a-f]{32}/, 'X')
    .replace(/in\.\d+\./, 'in.P.')
    .replace(/^w\.fx([<>]) \$KV\S*/, 'w.fx$1 status')
    .replace(/^w\.fx([<>]) \S*act\S*/, 'w.fx$1 act')
    .replace(/^w\.inbox .*/, 'w.inbox')
    .replace(/^w\.appended .*/, 'w.appended')
    .trim();
  if (!byId.has(id)) byId.set(id, []);
  byId.get(id)!.push({ t: Number(parts[1]), n: name });
}
const chains = [...byId.values()].filter((c) => c.some((e) => e.n === 'c.startNew')).map((c) => c.sort((a, b) => a.t - b.t));
const stats = new Map<string, number[]>();
for (const c of chains) {
  const t0 = c.find((e) => e.n === 'c.startNew')!.t;
  const seen = new Map<string, number>();
  for (const e of c) {
    const o = (seen.get(e.n) ?? 0) + 1;
    seen.set(e.n, o);
    const key = `${e.n}#${o}`;
    if (!stats.has(key)) stats.set(key, []);
    stats.get(key)!.push(e.t - t0);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows = [...stats].map(([k, xs]) => ({ k, m: med(xs), n: xs.length })).sort((a, b) => a.m - b.m);
let prev = 0;
console.log(`chains ${chains.length}, concurrency ${C}`);
for (const r of rows) {
  console.log(`${(r.m - prev).toFixed(3).padStart(8)} ${r.m.toFixed(3).padStart(8)}  ${r.k} (${r.n})`);
  prev = r.m;
}
