/**
 * Observability: a worker started with `metricsPort: 0` serves Prometheus text on /metrics and
 * its health on /healthz. After real work (signals, a scheduled signal, fan-out activities, a
 * malformed inbox message) every counter that work should move has moved; /healthz turns 503
 * while the NATS server is down and 200 again after it is back.
 */
import { natsOf } from '../../src/store/nats-hub.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DurableClient, DurableError, EntityId, Worker } from '../../src/index.js';
import { counter } from '../../entities/counter.js';
import { orchestrations, activities } from '../../orchestrations/index.js';
import { expectedTotalBytes } from '../../orchestrations/fan-out-fan-in.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/nats-cluster.js';

let server: TestServer;
let worker: Worker | undefined;
let client: DurableClient | undefined;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await worker?.stop().catch(() => undefined);
  await server?.stop();
});

/** Parses Prometheus text into `name{labels}` -> value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    // Drop the default labels (worker, hub) so that tests can name series simply.
    const key = line
      .slice(0, i)
      .replace(/(worker|hub)="[^"]*",?/g, '')
      .replace(/,}/, '}')
      .replace('{}', '');
    out.set(key, Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  return parse(await res.text());
}

describe('metrics server', () => {
  it('serves counters that move with the work, and the queue depth of the activity consumers', async () => {
    const hub = 'metrics-work';
    worker = await Worker.start({
      servers: server.url,
      hub,
      entities: [counter],
      orchestrations,
      activities,
      metricsPort: 0,
      leaseMs: 1_500,
      logger: pino({ level: 'warn' }),
    });
    expect(worker.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    client = await DurableClient.connect({ servers: server.url, hub });
    const url = worker.metricsUrl!;

    const health = (await (await fetch(`${url}/healthz`)).json()) as { ok: boolean; worker: string; partitions: number[] };
    expect(health).toEqual({ ok: true, worker: worker.id, partitions: Array.from({ length: 16 }, (_, i) => i) });

    const before = await scrape(url);
    expect(before.get('durable_partitions_owned')).toBe(16);
    expect(before.get('durable_operations_applied_total')).toBe(0);

    // Work: 500 signals, one scheduled signal (timer), two fan-outs (activities), one malformed
    // inbox message (dead letter).
    const id = new EntityId('counter', 'm');
    await Promise.all(Array.from({ length: 500 }, () => client!.signalEntity(id, 'add', 1)));
    await client.signalEntity(id, 'add', 1000, { at: new Date(Date.now() + 300) });
    const fans = await Promise.all([30, 50].map((count, i) => client!.startNew('fanOutFanIn', { instanceId: `fan-${i}`, input: { count } })));
    const done = await Promise.all(fans.map((f) => client!.waitForCompletion(f, { timeoutMs: 30_000 })));
    expect(done.map((d) => d.output)).toEqual([30, 50].map((count) => ({ files: count, totalBytes: expectedTotalBytes(count) })));
    await natsOf(client.hub).js.publish(`${hub}.in.3.x.bogus`, new TextEncoder().encode('{}'));
    await waitFor('the scheduled signal', async () => (await client!.callEntity<number>(id, 'get')) === 1500, 10_000);

    const after = await waitFor(
      'the dead letter to be counted',
      async () => {
        const m = await scrape(url);
        return (m.get('durable_dead_letters_total') ?? 0) >= 1 ? m : undefined;
      },
      10_000,
    );
    expect(after.get('durable_operations_applied_total')).toBeGreaterThanOrEqual(502);
    expect(after.get('durable_batch_size_count')).toBeGreaterThan(0);
    // Batch sizes count inbox messages: the 500 signals, issued together, travel as two batch
    // messages (signal-batcher.ts), then the timer registration, the scheduled signal, two starts.
    expect(after.get('durable_batch_size_sum')).toBeGreaterThanOrEqual(6);
    expect(after.get('durable_commit_seconds_count')).toBe(after.get('durable_batch_size_count'));
    expect(after.get('durable_commit_seconds_bucket{le="+Inf"}')).toBe(after.get('durable_commit_seconds_count'));
    expect(after.get('durable_activities_total{outcome="completed"}')).toBeGreaterThanOrEqual(80);
    expect(after.get('durable_timer_lag_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(after.get('durable_orchestration_steps_total')).toBeGreaterThan(0);
    expect(after.has('durable_fenced_appends_total')).toBe(true);
    expect(after.has('durable_activity_redeliveries_total')).toBe(true);
    // Queue gauges: sampled from the activity consumers on scrape; everything ran, so 0 waiting.
    expect(after.get('durable_activity_queue_depth{activity="filesize"}')).toBe(0);
    expect(after.get('durable_activity_in_flight{activity="filesize"}')).toBe(0);
    expect(after.get('durable_activity_queue_depth{activity="sayhello"}')).toBe(0);

    // The dead letter is in DN_<hub>_DLQ with its reason.
    const dlq = await natsOf(client.hub).jsm.streams.getMessage(client.hub.names.deadLetterStream, { last_by_subj: `${hub}.dlq.3` });
    expect(dlq?.header?.get('Dn-Reason')).toMatch(/unknown actor subject/);

    expect((await fetch(`${url}/nope`)).status).toBe(404);
  }, 60_000);

  it('counts a waiting activity queue while no worker runs that activity', async () => {
    // A second hub whose only worker registers no activity: work items pile up in the queue.
    const hub = 'metrics-queue';
    const { fanOutFanIn, helloSequence } = await import('../../orchestrations/index.js').then((m) => ({
      fanOutFanIn: m.orchestrations.find((o) => o.name === 'fanoutfanin')!,
      helloSequence: m.orchestrations.find((o) => o.name === 'hellosequence')!,
    }));
    const runner = await Worker.start({ servers: server.url, hub, orchestrations: [fanOutFanIn, helloSequence], activities, logger: pino({ level: 'warn' }) });
    await runner.stop(); // creates the activity consumers, then leaves
    const w = await Worker.start({ servers: server.url, hub, orchestrations: [fanOutFanIn, helloSequence], metricsPort: 0, logger: pino({ level: 'warn' }) });
    const c = await DurableClient.connect({ servers: server.url, hub });
    try {
      await c.startNew('fanOutFanIn', { instanceId: 'waiting', input: { count: 25 } });
      const m = await waitFor(
        '25 queued work items',
        async () => {
          const s = await scrape(w.metricsUrl!);
          return s.get('durable_activity_queue_depth{activity="filesize"}') === 25 ? s : undefined;
        },
        15_000,
      );
      expect(m.get('durable_activity_in_flight{activity="filesize"}')).toBe(0);
    } finally {
      await c.close();
      await w.stop();
    }
  }, 60_000);

  it('/healthz is 503 while NATS is down and 200 again after it is back', async () => {
    const url = worker!.metricsUrl!;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    process.kill(server.pid, 'SIGKILL');
    const down = await waitFor(
      '503',
      async () => {
        const res = await fetch(`${url}/healthz`);
        return res.status === 503 ? res : undefined;
      },
      15_000,
    );
    expect(await down.json()).toMatchObject({ ok: false, worker: worker!.id });
    // /metrics still answers while NATS is away (the queue sampler fails quietly).
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    await server.restart();
    await waitFor('200', async () => (await fetch(`${url}/healthz`)).status === 200, 20_000);
    // A request sent while the server was still recovering its streams can go unanswered (a
    // 'timeout' or 'connection' error): callers retry such transient errors.
    const value = await waitFor(
      'a call to succeed after the restart',
      async () => {
        try {
          return await client!.callEntity<number>(new EntityId('counter', 'm'), 'get', undefined, { timeoutMs: 5_000 });
        } catch (e) {
          if (DurableError.is(e, 'timeout') || DurableError.is(e, 'connection')) return undefined;
          throw e;
        }
      },
      40_000,
    );
    expect(value).toBe(1500);
  }, 60_000);
});
