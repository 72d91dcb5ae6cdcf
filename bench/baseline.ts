/**
 * Raw JetStream baselines on the same server in the same run: the physical limit every
 * durable-nats figure is divided by (JETSTREAM-LIMITS.md).
 */
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { LeanPublisher } from '../src/store/lean-publisher.js';
import { pipelined, summarize } from './stats.js';

export interface Baselines {
  publishPerSec: number;
  leanPublishPerSec: number;
  publishLatencyMs: { p50: number; p99: number };
  consumePerSec: number;
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
  await jsm.streams.delete('BENCH_RAW');
  return { publishPerSec, leanPublishPerSec, publishLatencyMs: { p50: lat.p50, p99: lat.p99 }, consumePerSec };
}
