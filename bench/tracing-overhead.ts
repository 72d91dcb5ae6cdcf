/**
 * The cost of tracing on the client's hot path: signalEntity throughput with no SDK registered
 * (the default: no span, no header), and with the OpenTelemetry SDK registered (AlwaysOn sampler,
 * a no-op exporter: span creation and W3C injection only), alternating the two modes.
 * Also the per-call cost of the no-SDK check alone. Starts its own nats-server (loopback only).
 * Run: npx tsx bench/tracing-overhead.ts [--n 5000]
 */
import { pino } from 'pino';
import { propagation, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { DurableClient, EntityId, Worker } from '../src/index.js';
import { injectTrace, tracingEnabled } from '../src/core/tracing.js';
import { counter } from '../entities/counter.js';
import { startNatsServer } from '../test/helpers/nats-server.js';

const arg = process.argv.indexOf('--n');
const N = arg > 0 ? Number(process.argv[arg + 1]) : 5_000;
const WINDOW = 200;

const server = await startNatsServer();
const hub = 'bench-tracing';
// A worker only to publish the catalog (signals are validated against it); stopped before measuring.
const worker = await Worker.start({ servers: server.url, hub, entities: [counter], logger: pino({ level: 'warn' }) });
await worker.stop();
const client = await DurableClient.connect({ servers: server.url, hub });
const provider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ export: (_s, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => undefined })],
});

async function signals(label: string): Promise<number> {
  const id = new EntityId('counter', label);
  const t0 = performance.now();
  for (let i = 0; i < N; i += WINDOW) {
    await Promise.all(Array.from({ length: Math.min(WINDOW, N - i) }, () => client.signalEntity(id, 'add', 1)));
  }
  return N / ((performance.now() - t0) / 1000);
}

function checkCost(): number {
  const M = 1_000_000;
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < M; i++) if (injectTrace() !== undefined) n++;
  const ns = ((performance.now() - t0) * 1e6) / M;
  if (n) throw new Error('a header was produced without an SDK');
  return ns;
}

await signals('warmup');
const rows: Array<{ mode: string; perSecond: number }> = [];
for (let round = 0; round < 3; round++) {
  rows.push({ mode: 'no SDK', perSecond: await signals(`off-${round}`) });
  provider.register();
  if (!tracingEnabled()) throw new Error('SDK not registered');
  rows.push({ mode: 'SDK, AlwaysOn, no-op exporter', perSecond: await signals(`on-${round}`) });
  trace.disable();
  propagation.disable();
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const off = median(rows.filter((r) => r.mode === 'no SDK').map((r) => r.perSecond));
const on = median(rows.filter((r) => r.mode !== 'no SDK').map((r) => r.perSecond));
console.log(`signalEntity, ${N} per round, ${WINDOW} in flight, 3 rounds each (median):`);
for (const r of rows) console.log(`  ${r.mode.padEnd(32)} ${Math.round(r.perSecond)}/s`);
console.log(`  median no SDK ${Math.round(off)}/s, with SDK ${Math.round(on)}/s (${(((off - on) / off) * 100).toFixed(1)}% slower)`);
console.log(`no-SDK check (tracingEnabled + injectTrace) per call: ${checkCost().toFixed(1)} ns`);
await client.close();
await provider.shutdown();
await server.stop();
