/**
 * Raw JetStream baselines on the same server in the same run: the physical limit every
 * durable-nats figure is divided by (JETSTREAM-LIMITS.md).
 */
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { LeanPublisher } from '../src/store/lean-publisher.js';
import { pipelined, sequentialLatency, summarize } from './stats.js';

export interface Baselines {
  publishPerSec: number;
  leanPublishPerSec: number;
  publishLatencyMs: { p50: number; p99: number };
  consumePerSec: number;
  /** Core request -> a host appends with a fence (lean publish) -> replies: one at a time. */
  rawCallMs: { p50: number; p99: number };
  /** The same with 64 concurrent callers (each on its own key). */
  rawCalls64PerSec: number;
}

export async function measureBaselines(nc: NatsConnection, n: number): Promise<Baselines> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw.>'], storage: 'file' as any });
  const payload = new TextEncoder().encode(JSON.stringify({ op: 'add', input: 1 }));

  const latencies: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t = performance.now();
    await js.publish('bench.raw.lat', payload);
    latencies.push(performance.now() - t);
  }
  const lat = summarize(latencies);

  let t0 = performance.now();
  await pipelined(n, 256, () => js.publish('bench.raw.pub', payload));
  const publishPerSec = n / ((performance.now() - t0) / 1000);

  const lean = new LeanPublisher(nc);
  t0 = performance.now();
  await pipelined(n, 1024, () => lean.publish('bench.raw.lean', payload));
  const leanPublishPerSec = n / ((performance.now() - t0) / 1000);
  lean.close();

  await jsm.consumers.add('BENCH_RAW', { durable_name: 'c', ack_policy: AckPolicy.Explicit, filter_subject: 'bench.raw.pub' });
  const consumer = await js.consumers.get('BENCH_RAW', 'c');
  t0 = performance.now();
  let got = 0;
  const iter = await consumer.consume({ max_messages: 1000 });
  for await (const m of iter) {
    m.ack();
    if (++got >= n) break;
  }
  iter.stop();
  const consumePerSec = n / ((performance.now() - t0) / 1000);
  const calls = await rawCalls(nc, n);
  await jsm.streams.delete('BENCH_RAW');
  return { publishPerSec, leanPublishPerSec, publishLatencyMs: { p50: lat.p50, p99: lat.p99 }, consumePerSec, ...calls };
}

/**
 * The raw call: what a callEntity costs at the least. A host subscribed on a subject receives a
 * request, appends it to its key's stream subject fenced on the key's last sequence (lean publish
 * with Nats-Expected-Last-Subject-Sequence), then replies. Measured one at a time (p50/p99) and
 * with 64 concurrent callers on 64 keys (calls/s).
 */
export async function rawCalls(nc: NatsConnection, n: number): Promise<{ rawCallMs: { p50: number; p99: number }; rawCalls64PerSec: number }> {
  const host = new LeanPublisher(nc);
  const lastSeq = new Map<string, number>();
  const sub = nc.subscribe('bench.rawcall.*', {
    callback: (_err, m) => {
      const key = m.subject.slice('bench.rawcall.'.length);
      host.publish(`bench.raw.key.${key}`, m.data, { expectedLastSubjectSequence: lastSeq.get(key) ?? 0 }).then(
        (ack) => {
          lastSeq.set(key, ack.seq);
          m.respond(ack.seq.toString());
        },
        () => m.respond('error'),
      );
    },
  });
  const payload = new TextEncoder().encode(JSON.stringify({ op: 'add', input: 1 }));
  for (let i = 0; i < 200; i++) await nc.request('bench.rawcall.warm', payload); // warm up
  const seq = await sequentialLatency(2_000, () => nc.request('bench.rawcall.seq', payload, { timeout: 10_000 }));
  const count = Math.min(n, 12_800);
  const t0 = performance.now();
  await pipelined(count, 64, (i) => nc.request(`bench.rawcall.k${i % 64}`, payload, { timeout: 10_000 }));
  const rawCalls64PerSec = count / ((performance.now() - t0) / 1000);
  sub.unsubscribe();
  host.close();
  return { rawCallMs: seq, rawCalls64PerSec };
}
