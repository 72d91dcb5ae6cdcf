/**
 * Raw JetStream baselines on the same server in the same run: the physical limit every
 * durable-nats figure is divided by (JETSTREAM-LIMITS.md). Each can be measured again right
 * before the figure it is the reference for (paired runs: a ratio from one moment of the machine).
 */
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { LeanPublisher } from '../src/store/lean-publisher.js';
import { pipelined, sequentialLatency, summarize } from './stats.js';

export interface Baselines {
  publishPerSec: number;
  leanPublishPerSec: number;
  publishLatencyMs: { p50: number; p99: number };
  consumePerSec: number;
  /** Core request -> a host appends with a fence (lean publish, expected last subject sequence) -> replies: one at a time. */
  rawCallMs: { p50: number; p99: number };
  /** The same with 64 concurrent callers (each on its own key). */
  rawCalls64PerSec: number;
}

const payload = new TextEncoder().encode(JSON.stringify({ op: 'add', input: 1 }));

/** The raw references, measurable again and again on one stream (BENCH_RAW) while the bench runs. */
export class RawBench {
  private consumers = 0;
  private leanRuns = 0;
  private host?: { sub: Subscription; publisher: LeanPublisher };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
  ) {}

  static async create(nc: NatsConnection): Promise<RawBench> {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw.>'], storage: 'file' as any });
    return new RawBench(nc, jsm, jetstream(nc));
  }

  /** `js.publish` one at a time: p50/p99 ms. */
  async publishLatency(n = 1000): Promise<{ p50: number; p99: number }> {
    return sequentialLatency(n, () => this.js.publish('bench.raw.lat', payload));
  }

  /** `js.publish` (the official client), 256 in flight: msgs/s. */
  async publish(n: number): Promise<number> {
    const t0 = performance.now();
    await pipelined(n, 256, () => this.js.publish('bench.raw.pub', payload));
    return n / ((performance.now() - t0) / 1000);
  }

  /** Lean publish (core publish to a stream subject, one reply inbox, own PubAck parsing), 1,024 in flight: msgs/s. */
  async leanPublish(n: number): Promise<number> {
    const lean = new LeanPublisher(this.nc);
    try {
      const subject = `bench.raw.lean${this.leanRuns++ % 4}`;
      const t0 = performance.now();
      await pipelined(n, 1024, () => lean.publish(subject, payload));
      return n / ((performance.now() - t0) / 1000);
    } finally {
      lean.close();
    }
  }

  /** Pull consume + plain ack of `n` messages published with publish() before: msgs/s. */
  async consume(n: number): Promise<number> {
    const name = `c${this.consumers++}`;
    await this.jsm.consumers.add('BENCH_RAW', { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: 'bench.raw.pub' });
    const consumer = await this.js.consumers.get('BENCH_RAW', name);
    const t0 = performance.now();
    let got = 0;
    const iter = await consumer.consume({ max_messages: 1000 });
    for await (const m of iter) {
      m.ack();
      if (++got >= n) break;
    }
    iter.stop();
    const perSec = n / ((performance.now() - t0) / 1000);
    await this.jsm.consumers.delete('BENCH_RAW', name);
    return perSec;
  }

  /**
   * The raw call: what a callEntity costs at the least. A host subscribed on a subject receives a
   * request, appends it to its key's stream subject fenced on the key's last sequence (lean publish
   * with Nats-Expected-Last-Subject-Sequence), then replies. One at a time: p50/p99 ms.
   */
  async rawCall(n = 2_000): Promise<{ p50: number; p99: number }> {
    await this.startHost();
    return sequentialLatency(n, () => this.nc.request('bench.rawcall.seq', payload, { timeout: 10_000 }));
  }

  /** Raw calls with 64 concurrent callers on 64 keys: calls/s. */
  async rawCalls64(n = 12_800): Promise<number> {
    await this.startHost();
    const t0 = performance.now();
    await pipelined(n, 64, (i) => this.nc.request(`bench.rawcall.k${i % 64}`, payload, { timeout: 10_000 }));
    return n / ((performance.now() - t0) / 1000);
  }

  /** All of them once (the table's reference rows). */
  async all(n: number): Promise<Baselines> {
    const publishLatencyMs = await this.publishLatency();
    const publishPerSec = await this.publish(n);
    const leanPublishPerSec = await this.leanPublish(n);
    const consumePerSec = await this.consume(n);
    const rawCallMs = await this.rawCall();
    const rawCalls64PerSec = await this.rawCalls64(Math.min(n, 12_800));
    return { publishPerSec, leanPublishPerSec, publishLatencyMs, consumePerSec, rawCallMs, rawCalls64PerSec };
  }

  async close(): Promise<void> {
    if (this.host) {
      this.host.sub.unsubscribe();
      this.host.publisher.close();
    }
    await this.jsm.streams.delete('BENCH_RAW').catch(() => undefined);
  }

  private async startHost(): Promise<void> {
    if (this.host) return;
    const publisher = new LeanPublisher(this.nc);
    const lastSeq = new Map<string, number>();
    const sub = this.nc.subscribe('bench.rawcall.*', {
      callback: (_err, m) => {
        const key = m.subject.slice('bench.rawcall.'.length);
        publisher.publish(`bench.raw.key.${key}`, m.data, { expectedLastSubjectSequence: lastSeq.get(key) ?? 0 }).then(
          (ack) => {
            lastSeq.set(key, ack.seq);
            m.respond(ack.seq.toString());
          },
          () => m.respond('error'),
        );
      },
    });
    this.host = { sub, publisher };
    for (let i = 0; i < 200; i++) await this.nc.request('bench.rawcall.warm', payload); // warm up
  }
}

/** p50 of a list. */
export const medianOf = (xs: number[]): number => summarize(xs).p50;

/** The raw call references alone (RawBench.rawCall and rawCalls64): sequential p50/p99 and calls/s with 64 callers. */
export async function rawCalls(nc: NatsConnection, n: number): Promise<{ rawCallMs: { p50: number; p99: number }; rawCalls64PerSec: number }> {
  const raw = await RawBench.create(nc);
  try {
    return { rawCallMs: await raw.rawCall(), rawCalls64PerSec: await raw.rawCalls64(Math.min(n, 12_800)) };
  } finally {
    await raw.close();
  }
}
