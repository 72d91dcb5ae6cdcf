/**
 * Tracing: with the OpenTelemetry SDK registered (in-memory exporter, W3C propagator), one request
 * is one trace through every hop; a raw producer's `traceparent` is joined; a replay after a worker
 * SIGKILL does not emit the spans of steps that already ran; without an SDK no header is added.
 */
import { natsOf } from '../../src/store/nats-hub.js';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { createHttpServer, DurableClient, EntityId, startSubject, Worker } from '../../src/index.js';
import { counter } from '../../entities/counter.js';
import { tracingEnabled } from '../../src/core/tracing.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/processes.js';
import { tracingActivities, tracingOrchestrations } from '../fixtures/tracing-orchestrations.js';

let server: TestServer;
let worker: Worker;
let client: DurableClient;
const hub = 'tracing-test';
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const procs: WorkerProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({
    servers: server.url,
    hub,
    entities: [counter],
    orchestrations: tracingOrchestrations,
    activities: tracingActivities,
    logger: pino({ level: 'warn' }),
    leaseMs: 2000,
    workerId: 'w-trace',
  });
  client = await DurableClient.connect({ servers: server.url, hub });
});

afterAll(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await client?.close();
  await worker?.stop();
  await server?.stop();
  await provider.shutdown();
  trace.disable();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `get` until `ok` holds (bounded), returning the last value. */
async function until<T>(get: () => T, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let v = get();
  while (!ok(v) && Date.now() < end) {
    await sleep(50);
    v = get();
  }
  return v;
}

/** The client's own connection (a raw producer needs one; reusing it keeps the test small). */
const connectionOf = (c: DurableClient): NatsConnection => natsOf(c.hub).nc;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

describe('tracing', () => {
  it('adds no trace header and no span while no SDK is registered', async () => {
    expect(tracingEnabled()).toBe(false);
    const id = new EntityId('counter', 'untraced');
    const seen: Msg[] = [];
    const sub = connectionOf(client).subscribe(client.signalSubject(id), {
      callback: (_e, m) => {
        seen.push(m);
      },
    });
    await client.signalEntity(id, 'add', 1);
    await until(
      () => seen.length,
      (n) => n > 0,
      5_000,
    );
    sub.unsubscribe();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers?.get('traceparent') ?? '').toBe('');
    expect(await client.callEntity(id, 'get')).toBe(1); // applied before the SDK is registered
  });
});

describe('tracing with an SDK registered', () => {
  beforeAll(() => {
    // AsyncLocalStorage context manager and the W3C trace-context propagator.
    provider.register();
    expect(tracingEnabled()).toBe(true);
  });

  it('one startNew of a chain with a sub-orchestration and an entity call is one trace, nested as drawn', async () => {
    exporter.reset();
    const id = await client.startNew('tOrder', { instanceId: 'order-1', input: 'order-1' });
    const status = await client.waitForCompletion(id, { timeoutMs: 30_000 });
    expect(status.runtimeStatus).toBe('Completed');
    // The last episode's span ends at its commit, before its status write: it is already exported.
    const spans = await until(
      () => exporter.getFinishedSpans(),
      (s) => s.some((x) => x.name === 'entity counter.add') && s.filter((x) => x.name === 'orchestration torder').length >= 3,
    );
    const byName = (n: string) => spans.filter((s) => s.name === n);

    if (process.env.DEBUG_SPANS) console.log(spans.map((s) => `${s.name} ${s.spanContext().traceId} ${idOf(s)} <- ${parentOf(s)}`).join('\n'));
    // Exactly one trace, one root: the client's startNew span.
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const roots = spans.filter((s) => !parentOf(s));
    expect(roots.map((s) => s.name)).toEqual(['startNew torder']);
    const root = roots[0]!;
    expect(root.attributes).toMatchObject({ 'durable.hub': hub, 'durable.orchestration': 'torder', 'durable.instance_id': 'order-1' });
    // Every span's parent is in the trace.
    const ids = new Set(spans.map(idOf));
    for (const s of spans) if (parentOf(s)) expect(ids.has(parentOf(s)!), `parent of ${s.name}`).toBe(true);

    // Each episode of tOrder hangs under startNew; each step under the episode that scheduled it.
    const episodes = byName('orchestration torder');
    // start (its activity runs eagerly and is recorded in the same episode), sub done, entity answered
    expect(episodes.length).toBe(3);
    for (const e of episodes) {
      expect(parentOf(e)).toBe(idOf(root));
      expect(e.attributes).toMatchObject({ 'durable.instance_id': 'order-1', 'durable.orchestration': 'torder', 'durable.worker_id': 'w-trace' });
      expect(typeof e.attributes['durable.partition']).toBe('number');
    }
    const episodeIds = new Set(episodes.map(idOf));
    const activities = byName('activity tstep');
    expect(activities).toHaveLength(2);
    const top = activities.find((a) => a.attributes['durable.instance_id'] === 'order-1')!;
    expect(episodeIds.has(parentOf(top)!)).toBe(true);
    expect(top.attributes).toMatchObject({ 'durable.activity': 'tstep', 'durable.attempt': 1, 'durable.task_id': 1 });

    // The sub-orchestration's episodes hang under the parent episode that started it; its activity under them.
    const subEpisodes = byName('orchestration tsub');
    expect(subEpisodes.length).toBe(1); // its start, with its (eager) activity
    const starter = parentOf(subEpisodes[0]!)!;
    expect(episodeIds.has(starter)).toBe(true);
    for (const e of subEpisodes) expect(parentOf(e)).toBe(starter);
    const subActivity = activities.find((a) => a !== top)!;
    expect(new Set(subEpisodes.map(idOf)).has(parentOf(subActivity)!)).toBe(true);

    // The entity operation hangs under the episode that called it.
    const op = byName('entity counter.add');
    expect(op).toHaveLength(1);
    expect(episodeIds.has(parentOf(op[0]!)!)).toBe(true);
    expect(op[0]!.attributes).toMatchObject({ 'durable.entity.name': 'counter', 'durable.entity.key': 'order-1', 'durable.operation': 'add' });

    // Nothing else: no span was emitted twice.
    expect(spans.length).toBe(1 + 3 + 1 + 2 + 1);
    // Trace context is in the start event, never in what replay compares.
    const history = (await client.readHistory(id)) as Array<{ type: string; trace?: Record<string, string> }>;
    expect(history[0]!.trace?.traceparent).toContain(root.spanContext().traceId);
    expect(history.filter((e) => e.type !== 'ExecutionStarted' && e.trace)).toEqual([]);
  }, 60_000);

  it("a signal from a raw producer with traceparent joins the producer's trace; callEntity is one trace with its operation", async () => {
    exporter.reset();
    const id = new EntityId('counter', 'raw');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const producerSpan = '00f067aa0ba902b7';
    const h = natsHeaders();
    h.set('traceparent', `00-${traceId}-${producerSpan}-01`);
    const nc = connectionOf(client);
    // A JetStream publish as any NATS client would do it (request for the PubAck).
    await nc.request(client.signalSubject(id), new TextEncoder().encode(JSON.stringify({ op: 'add', input: 7 })), { headers: h, timeout: 5_000 });
    const spans = await until(
      () => exporter.getFinishedSpans(),
      (s) => s.some((x) => x.name === 'entity counter.add'),
    );
    const op = spans.find((x) => x.name === 'entity counter.add')!;
    expect(op.spanContext().traceId).toBe(traceId);
    expect(parentOf(op)).toBe(producerSpan);

    // A raw start (<hub>.start.<name>) with traceparent: the run's episodes join the producer's trace.
    exporter.reset();
    const startTrace = '5bf92f3577b34da6a3ce929d0e0e4737';
    const sh = natsHeaders();
    sh.set('traceparent', `00-${startTrace}-${producerSpan}-01`);
    await nc.request(startSubject(hub, 'tOrder'), new TextEncoder().encode(JSON.stringify({ instanceId: 'raw-start', input: 'raw-start' })), { headers: sh, timeout: 5_000 });
    expect((await client.waitForCompletion('raw-start', { timeoutMs: 30_000 })).runtimeStatus).toBe('Completed');
    const run = await until(
      () => exporter.getFinishedSpans(),
      (x) => x.filter((s) => s.name === 'orchestration torder').length >= 4,
    );
    const runEpisodes = run.filter((s) => s.name === 'orchestration torder');
    // A raw start may be a duplicate: its first activity runs after the start is durable (no eager
    // round), so it is an episode of its own: start, activity done, sub done, entity answered.
    expect(runEpisodes.length).toBe(4);
    for (const e of runEpisodes) {
      expect(e.spanContext().traceId).toBe(startTrace);
      expect(parentOf(e)).toBe(producerSpan);
    }

    exporter.reset();
    expect(await client.callEntity(id, 'get')).toBe(7);
    const call = await until(
      () => exporter.getFinishedSpans(),
      (s) => s.some((x) => x.name === 'entity counter.get') && s.some((x) => x.name === 'callEntity counter.get'),
    );
    const caller = call.find((x) => x.name === 'callEntity counter.get')!;
    const get = call.find((x) => x.name === 'entity counter.get')!;
    expect(parentOf(get)).toBe(idOf(caller));
    expect(get.spanContext().traceId).toBe(caller.spanContext().traceId);
  }, 30_000);

  it('a scheduled signal fires into the trace that scheduled it; failures carry their code', async () => {
    exporter.reset();
    const id = new EntityId('counter', 'later');
    await client.signalEntity(id, 'add', 2, { at: new Date(Date.now() + 300) });
    const spans = await until(
      () => exporter.getFinishedSpans(),
      (s) => s.some((x) => x.name === 'entity counter.add'),
      10_000,
    );
    const signal = spans.find((x) => x.name === 'signalEntity counter.add')!;
    const fired = spans.find((x) => x.name === 'timer fired')!;
    const op = spans.find((x) => x.name === 'entity counter.add')!;
    expect(parentOf(fired)).toBe(idOf(signal));
    expect(parentOf(op)).toBe(idOf(fired));

    exporter.reset();
    await expect(client.callEntity(id, 'addPositive', -1)).rejects.toMatchObject({ code: 'operation-failed' });
    const failed = await until(
      () => exporter.getFinishedSpans(),
      (s) => s.some((x) => x.name === 'callEntity counter.addpositive'),
    );
    const clientSpan = failed.find((x) => x.name === 'callEntity counter.addpositive')!;
    expect(clientSpan.status.code).toBe(2); // ERROR
    expect(clientSpan.attributes['durable.error_code']).toBe('operation-failed');
    if (process.env.DEBUG_SPANS) console.log(failed.map((s) => `${s.name} ${s.spanContext().traceId} ${idOf(s)} <- ${parentOf(s)}`).join('\n'));
    const opSpan = failed.find((x) => x.name === 'entity counter.addpositive')!;
    expect(opSpan.status.code).toBe(2);
  }, 30_000);

  it("an HTTP request is the parent of what its handler does, under the caller's traceparent", async () => {
    const http = await createHttpServer({ client, systemKey: 'k', port: 0, logger: pino({ level: 'warn' }) });
    try {
      exporter.reset();
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const callerSpan = 'b7ad6b7169203331';
      const res = await fetch(`${http.url}/api/start/tOrder/http-1?code=k`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
        body: JSON.stringify('http-1'),
      });
      expect(res.status).toBe(202);
      await client.waitForCompletion('http-1', { timeoutMs: 30_000 });
      const spans = await until(
        () => exporter.getFinishedSpans(),
        (x) => x.filter((s) => s.name === 'orchestration torder').length >= 3,
      );
      const server = spans.find((s) => s.name === 'POST /api/start/:name/:instanceId')!;
      expect(server.spanContext().traceId).toBe(traceId);
      expect(parentOf(server)).toBe(callerSpan);
      expect(server.attributes['http.response.status_code']).toBe(202);
      const start = spans.find((s) => s.name === 'startNew torder')!;
      expect(parentOf(start)).toBe(idOf(server));
      expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));
    } finally {
      await http.close();
    }
  }, 60_000);

  it('a replay after a worker SIGKILL does not duplicate the spans of steps that already ran', async () => {
    const crashHub = 'tracing-crash';
    const dir = mkdtempSync(join(tmpdir(), 'dn-trace-'));
    const file = join(dir, 'spans.jsonl');
    const env = { NATS_URL: server.url, HUB: crashHub, LEASE_MS: '1500', ACTIVITY_ACK_WAIT_MS: '1500', SPANS_FILE: file };
    const a = await startWorkerProcess({ ...env, WORKER_ID: 'a' }, 'test/fixtures/traced-worker-process.ts');
    procs.push(a);
    const crashClient = await DurableClient.connect({ servers: server.url, hub: crashHub });
    try {
      exporter.reset();
      const id = await crashClient.startNew('tChain', { instanceId: 'chain-1' });
      type Line = { name: string; traceId: string; spanId: string; parentSpanId?: string; attributes: Record<string, unknown>; worker: string };
      const read = (): Line[] =>
        existsSync(file)
          ? readFileSync(file, 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as Line)
          : [];
      // The first episode ran step 1 eagerly (recorded with it) and started tSlow, which does not
      // finish within it: once that episode ended, tSlow is running on a.
      await until(read, (l) => l.filter((s) => s.name === 'orchestration tchain').length >= 1 && l.some((s) => s.name === 'activity tstep'), 20_000);
      await sleep(300);
      await a.kill('SIGKILL');
      const beforeKill = read().length;
      const b = await startWorkerProcess({ ...env, WORKER_ID: 'b' }, 'test/fixtures/traced-worker-process.ts');
      procs.push(b);
      const status = await crashClient.waitForCompletion(id, { timeoutMs: 60_000 });
      expect(status.runtimeStatus).toBe('Completed');
      expect(status.output).toEqual(['step 1', 'slow 2', 'step 3']);
      const lines = await until(read, (l) => l.filter((s) => s.name === 'orchestration tchain').length >= 2, 5_000);

      const root = exporter.getFinishedSpans().find((s) => s.name === 'startNew tchain')!;
      if (process.env.DEBUG_SPANS) console.log(beforeKill, lines.map((l) => `${l.worker} ${l.name} ${l.spanId}<-${l.parentSpanId} ${JSON.stringify(l.attributes)}`).join('\n'));
      const traceId = root.spanContext().traceId;
      expect(new Set(lines.map((l) => l.traceId))).toEqual(new Set([traceId]));
      // Steps that ran before the crash are not run (nor traced) again: one span each, from a.
      const activities = lines.filter((l) => l.name.startsWith('activity '));
      const ofTask = (t: number) => activities.filter((l) => l.attributes['durable.task_id'] === t);
      expect(ofTask(1).map((l) => `${l.name}@${l.worker}`)).toEqual(['activity tstep@a']);
      expect(ofTask(3).map((l) => `${l.name}@${l.worker}`)).toEqual(['activity tstep@b']);
      // The step killed mid-run never ended its span on a; it runs again on b (at least once: JetStream
      // may deliver it more than once, and each execution is a span of its own).
      expect(ofTask(2).length).toBeGreaterThanOrEqual(1);
      expect(ofTask(2).every((l) => l.worker === 'b' && l.name === 'activity tslow')).toBe(true);
      // One span per episode (a: the start with step 1; b: tSlow's result with step 3, run eagerly):
      // b's replay of a's history adds none.
      const episodes = lines.filter((l) => l.name === 'orchestration tchain');
      expect(episodes).toHaveLength(2);
      for (const e of episodes) expect(e.parentSpanId).toBe(idOf(root));
      expect(new Set(lines.map((l) => l.spanId)).size).toBe(lines.length);
      expect(lines.filter((l) => l.worker === 'b' && l.name === 'orchestration tchain')).toHaveLength(1);
    } finally {
      await crashClient.close();
    }
  }, 120_000);
});
