/**
 * The HTTP API through real HTTP: every route's success and error codes, the system key, the
 * public status endpoint, long poll, SSE, and event-triggered starts published raw to NATS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { activity, DurableClient, orchestration, startSubject, Worker } from '../../src/index.js';
import { createHttpServer, type HttpServer } from '../../src/http/index.js';
import { counter } from '../../entities/counter.js';
import { aggregator } from '../../entities/aggregator.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { statusKey } from '../../src/core/topology.js';

const hub = 'http-test';
const KEY = 'test-system-key';

const echo = orchestration('httpEcho', function* (_ctx, input: unknown) {
  return input ?? null;
});
const waitForGo = orchestration('httpWait', function* (ctx, input: unknown) {
  ctx.setCustomStatus({ waiting: 'go', input });
  const data: unknown = yield ctx.waitForExternalEvent('go');
  return { got: data };
});
const fail = orchestration('httpFail', function* (ctx) {
  return yield ctx.callActivity('httpBoom');
});
const boom = activity('httpBoom', async () => {
  throw new Error('boom on purpose');
});
const hello = activity('httpHello', async (city: string) => `Hello ${city}!`);
const steps = orchestration('httpSteps', function* (ctx) {
  const greeting: string = yield ctx.callActivity('httpHello', 'Tokyo');
  try {
    yield ctx.callActivity('httpBoom');
  } catch {
    /* caught on purpose: a TaskFailed entry */
  }
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 10));
  return greeting;
});

let server: TestServer;
let worker: Worker;
let client: DurableClient;
let http: HttpServer;
let B: string;

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({
    servers: server.url,
    hub,
    entities: [counter, aggregator],
    orchestrations: [echo, waitForGo, fail, steps],
    activities: [boom, hello],
    logger: pino({ level: 'warn' }),
  });
  client = await DurableClient.connect({ servers: server.url, hub });
  http = await createHttpServer({ servers: server.url, hub, systemKey: KEY, port: 0, logger: pino({ level: 'warn' }) });
  B = `${http.url}/runtime/webhooks/durabletask`;
});

afterAll(async () => {
  await http?.close();
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

/** A request with the key as `code=` (pass `key: null` for none). */
function api(path: string, init: RequestInit & { key?: string | null } = {}): Promise<Response> {
  const { key = KEY, ...rest } = init;
  const url = key === null ? `${B}${path}` : `${B}${path}${path.includes('?') ? '&' : '?'}code=${encodeURIComponent(key)}`;
  return fetch(url, rest);
}
const post = (path: string, body?: string, headers: Record<string, string> = {}) =>
  api(path, { method: 'POST', ...(body === undefined ? {} : { body }), headers: { 'content-type': 'application/json', ...headers } });
const json = async (r: Response) => JSON.parse(await r.text());
const uid = (p: string) => `${p}-${Math.random().toString(36).slice(2, 10)}`;

async function startWaiting(id = uid('w'), input: unknown = { n: 1 }): Promise<string> {
  const r = await post(`/orchestrators/httpWait/${id}`, JSON.stringify(input));
  expect(r.status).toBe(202);
  await client.waitForCompletion(id, { timeoutMs: 1 }).catch(() => undefined);
  return id;
}

async function untilStatus(id: string, status: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await client.getStatus(id))?.runtimeStatus === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${id} never became ${status}`);
}

describe('system key', () => {
  it('answers 401 without the key, or with a wrong one, on every management route', async () => {
    const routes: Array<[string, string]> = [
      ['GET', `${B}/instances/`],
      ['GET', `${B}/instances/x`],
      ['POST', `${B}/orchestrators/httpEcho`],
      ['POST', `${B}/instances/x/terminate`],
      ['DELETE', `${B}/instances/x`],
      ['GET', `${B}/entities/`],
      ['POST', `${B}/entities/counter/k?op=add`],
      ['GET', `${B}/instances/x/events`],
      ['GET', `${B}/client-data`],
      ['POST', `${http.url}/api/orchestrators/httpEcho`],
      ['POST', `${http.url}/api/start/httpEcho`],
    ];
    for (const [method, url] of routes) {
      const none = await fetch(url, { method });
      expect(none.status, `${method} ${url}`).toBe(401);
      expect((await json(none)).error.code).toBe('unauthorized');
      const sep = url.includes('?') ? '&' : '?';
      expect((await fetch(`${url}${sep}code=wrong`, { method })).status).toBe(401);
      expect((await fetch(url, { method, headers: { 'x-functions-key': `${KEY}x` } })).status).toBe(401);
    }
  });

  it('accepts the key as code= or as the x-functions-key header', async () => {
    expect((await fetch(`${B}/instances/?code=${KEY}`)).status).toBe(200);
    expect((await fetch(`${B}/instances/`, { headers: { 'x-functions-key': KEY } })).status).toBe(200);
  });

  it('leaves /healthz, /openapi.json and /api/status open', async () => {
    expect(await json(await fetch(`${http.url}/healthz`))).toEqual({ ok: true });
    const doc = await json(await fetch(`${http.url}/openapi.json`));
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/runtime/webhooks/durabletask/instances/{instanceId}', '/api/status/{instanceId}']));
    expect((await fetch(`${http.url}/api/status/nobody`)).status).toBe(404);
  });
});

describe('starting', () => {
  it('answers 202 with the check-status payload and Location; status is never 404 right after', async () => {
    const r = await post('/orchestrators/httpEcho', JSON.stringify({ a: 1 }));
    expect(r.status).toBe(202);
    const p = await json(r);
    expect(Object.keys(p).sort()).toEqual([
      'id',
      'purgeHistoryDeleteUri',
      'restartPostUri',
      'resumePostUri',
      'rewindPostUri',
      'sendEventPostUri',
      'statusQueryGetUri',
      'suspendPostUri',
      'terminatePostUri',
    ]);
    expect(r.headers.get('location')).toBe(p.statusQueryGetUri);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(p.statusQueryGetUri).toBe(`${B}/instances/${p.id}?taskHub=${hub}&connection=Storage&code=${KEY}`);
    expect(p.sendEventPostUri).toContain(`/instances/${p.id}/raiseEvent/{eventName}?`);
    expect(p.terminatePostUri).toContain('terminate?reason={text}&');
    const first = await fetch(p.statusQueryGetUri);
    expect([200, 202]).toContain(first.status);
    const done = await fetch(`${p.statusQueryGetUri}&waitForCompletion=10s`);
    expect(done.status).toBe(200);
    const s = await json(done);
    expect(s).toMatchObject({ name: 'httpecho', instanceId: p.id, runtimeStatus: 'Completed', input: { a: 1 }, output: { a: 1 }, customStatus: null });
    expect(typeof s.createdTime).toBe('string');
  });

  it('accepts an empty body (no input) and keeps input/output keys as null', async () => {
    const r = await post('/orchestrators/httpEcho', '');
    expect(r.status).toBe(202);
    const { id } = await json(r);
    const s = await json(await api(`/instances/${id}?waitForCompletion=10s`));
    expect(s).toMatchObject({ runtimeStatus: 'Completed', input: null, output: null });
    expect('customStatus' in s).toBe(true);
  });

  it('uses the given instance id; 409 while it runs; 400 for bad JSON, unknown names and bad ids', async () => {
    const id = await startWaiting();
    const dup = await post(`/orchestrators/httpWait/${id}`, '{}');
    expect(dup.status).toBe(409);
    expect((await json(dup)).error.code).toBe('instance-exists');
    const bad = await post('/orchestrators/httpEcho', '{"a":');
    expect(bad.status).toBe(400);
    expect(await json(bad)).toEqual({ error: { code: 'validation', message: 'request body is not valid JSON' } });
    expect((await post('/orchestrators/noSuchThing', '{}')).status).toBe(400);
    expect((await post(`/orchestrators/httpEcho/${'x'.repeat(600)}`, '{}')).status).toBe(400);
  });

  it('offers the DF HTTP-starter route and a minimal start that hides management URIs', async () => {
    const full = await fetch(`${http.url}/api/orchestrators/httpEcho/${uid('api')}?code=${KEY}`, { method: 'POST', body: '"x"' });
    expect(full.status).toBe(202);
    expect(await json(full)).toHaveProperty('terminatePostUri');
    const id = uid('min');
    const min = await fetch(`${http.url}/api/start/httpEcho/${id}`, { method: 'POST', body: '{"secret":42}', headers: { 'x-functions-key': KEY } });
    expect(min.status).toBe(202);
    expect(await json(min)).toEqual({ id, statusUri: `/api/status/${id}` });
    expect(min.headers.get('location')).toBe(`/api/status/${id}`);
    await client.waitForCompletion(id, { timeoutMs: 30_000 });
    const pub = await fetch(`${http.url}/api/status/${id}`);
    expect(pub.status).toBe(200);
    expect(await json(pub)).toEqual({ id, status: 'Completed', result: { secret: 42 } });
  });

  it('reveals nothing but id, status and result on the public endpoint', async () => {
    const id = await startWaiting(uid('pub'), { password: 'hunter2' });
    const r = await fetch(`${http.url}/api/status/${id}`);
    const text = await r.text();
    expect(JSON.parse(text)).toEqual({ id, status: expect.stringMatching(/Pending|Running/), result: null });
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(KEY);
  });
});

describe('instance management', () => {
  it('raises an event (202), then 410 once finished, 404 when unknown', async () => {
    const id = await startWaiting();
    await untilStatus(id, 'Running');
    const raised = await post(`/instances/${id}/raiseEvent/go`, JSON.stringify({ v: 7 }));
    expect(raised.status).toBe(202);
    const s = await json(await api(`/instances/${id}?waitForCompletion=10s`));
    expect(s).toMatchObject({ runtimeStatus: 'Completed', output: { got: { v: 7 } } });
    expect((await post(`/instances/${id}/raiseEvent/go`, '1')).status).toBe(410);
    expect((await post(`/instances/${id}/terminate?reason=late`)).status).toBe(410);
    expect((await post(`/instances/${id}/suspend`)).status).toBe(410);
    expect((await post('/instances/nobody/raiseEvent/go', '1')).status).toBe(404);
    expect((await post('/instances/nobody/terminate')).status).toBe(404);
  });

  it('long poll and SSE wake on a completion from a worker whose clock is behind (ordered by history position)', async () => {
    const id = await startWaiting();
    await untilStatus(id, 'Running');
    const running = JSON.parse(new TextDecoder().decode((await client.hub.kv.status.get(statusKey(id)))!.value));
    expect(running._v).toEqual(expect.any(Number));
    const poll = api(`/instances/${id}?waitForCompletion=5s`);
    const sse = api(`/instances/${id}/events`, { signal: AbortSignal.timeout(6_000) }).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 300));
    const skewed = { ...running, runtimeStatus: 'Completed', output: 'skewed', lastUpdatedTime: '2000-01-01T00:00:00.000Z', _v: running._v + 1 };
    await client.hub.kv.status.put(statusKey(id), new TextEncoder().encode(JSON.stringify(skewed)));
    const r = await poll;
    expect(r.status).toBe(200);
    expect(await json(r)).toMatchObject({ runtimeStatus: 'Completed', output: 'skewed' });
    expect(await sse).toContain('"output":"skewed"');
  });

  it('suspends, resumes and terminates with empty JSON bodies (DF client style)', async () => {
    const id = await startWaiting();
    await untilStatus(id, 'Running');
    expect((await post(`/instances/${id}/suspend?reason=pause`, '')).status).toBe(202);
    await untilStatus(id, 'Suspended');
    const suspended = await api(`/instances/${id}`);
    expect(suspended.status).toBe(202);
    expect(suspended.headers.get('location')).toContain(`/instances/${id}?`);
    expect((await post(`/instances/${id}/resume?reason=go%20on`)).status).toBe(202);
    await untilStatus(id, 'Running');
    expect((await api(`/instances/${id}/terminate?reason=enough`, { method: 'POST', headers: { 'content-type': 'application/json' } })).status).toBe(202);
    const s = await api(`/instances/${id}?waitForCompletion=10s`);
    expect(s.status).toBe(200);
    expect((await json(s)).runtimeStatus).toBe('Terminated');
  });

  it('reports a failure with output = message and failureDetails; rewinds only Failed (412 otherwise)', async () => {
    const { id } = await json(await post('/orchestrators/httpFail', ''));
    const s = await json(await api(`/instances/${id}?waitForCompletion=20s`));
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toContain('boom on purpose');
    expect(s.failureDetails.message).toContain('boom on purpose');
    expect((await post(`/instances/${id}/rewind?reason=retry`)).status).toBe(202);
    const { id: ok } = await json(await post('/orchestrators/httpEcho', '1'));
    await client.waitForCompletion(ok, { timeoutMs: 30_000 });
    expect((await post(`/instances/${ok}/rewind`)).status).toBe(412);
    expect((await post('/instances/nobody/rewind')).status).toBe(404);
  });

  it('restarts a finished instance under its id (202 + payload) and refuses a running one (409)', async () => {
    const { id } = await json(await post('/orchestrators/httpEcho', '"again"'));
    await client.waitForCompletion(id, { timeoutMs: 30_000 });
    const r = await post(`/instances/${id}/restart`);
    expect(r.status).toBe(202);
    expect((await json(r)).id).toBe(id);
    expect((await json(await api(`/instances/${id}?waitForCompletion=10s`))).output).toBe('again');
    const fresh = await json(await post(`/instances/${id}/restart?restartWithNewInstanceId=true`));
    expect(fresh.id).not.toBe(id);
    const running = await startWaiting();
    expect((await post(`/instances/${running}/restart`)).status).toBe(409);
    expect((await post('/instances/nobody/restart')).status).toBe(404);
  });

  it("history on the wire is DF's documented shape (historyEvents, EventType, ScheduledTime, results only with showHistoryOutput)", async () => {
    const { id } = await json(await post('/orchestrators/httpSteps'));
    await client.waitForCompletion(id, { timeoutMs: 30_000 });
    const full = await json(await api(`/instances/${id}?showHistory=true&showHistoryOutput=true`));
    const events = full.historyEvents as Array<Record<string, unknown>>;
    expect(events.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'TaskCompleted', 'TaskFailed', 'TimerCreated', 'TimerFired', 'ExecutionCompleted']);
    const time = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);
    expect(events[0]).toEqual({ EventType: 'ExecutionStarted', FunctionName: 'httpsteps', Timestamp: time });
    expect(events[1]).toEqual({ EventType: 'TaskCompleted', FunctionName: 'httphello', Result: 'Hello Tokyo!', ScheduledTime: time, Timestamp: time });
    expect(events[1]!.ScheduledTime! <= events[1]!.Timestamp!).toBe(true);
    expect(events[2]).toMatchObject({ EventType: 'TaskFailed', FunctionName: 'httpboom', ScheduledTime: time, Reason: 'boom on purpose', Details: expect.any(String) });
    expect(events[4]).toEqual({ EventType: 'TimerFired', FireAt: time, Timestamp: time });
    expect(events[5]).toEqual({ EventType: 'ExecutionCompleted', OrchestrationStatus: 'Completed', Result: 'Hello Tokyo!', Timestamp: time });
    const quiet = (await json(await api(`/instances/${id}?showHistory=true`))).historyEvents as Array<Record<string, unknown>>;
    expect(quiet.map((e) => e.EventType)).toEqual(events.map((e) => e.EventType));
    expect(quiet.some((e) => 'Result' in e)).toBe(false);
    // The client's own history keeps the internal events.
    expect(((await client.getStatus(id, { showHistory: true }))!.history as Array<{ type: string }>).map((e) => e.type)).toContain('TaskScheduled');
  });

  it('shows history on request, and 404 for an unknown instance', async () => {
    const { id } = await json(await post('/orchestrators/httpEcho', '5'));
    await client.waitForCompletion(id, { timeoutMs: 30_000 });
    const s = await json(await api(`/instances/${id}?showHistory=true&showInput=false`));
    expect(Array.isArray(s.historyEvents)).toBe(true);
    expect(s.historyEvents.length).toBeGreaterThan(0);
    expect(s.input).toBeNull();
    const r = await api('/instances/nobody');
    expect(r.status).toBe(404);
    expect((await json(r)).error.code).toBe('not-found');
    expect((await api('/instances/x?showHistory=maybe')).status).toBe(400);
  });

  it('lists with filters, with and without the trailing slash, paging by x-ms-continuation-token', async () => {
    const prefix = uid('list');
    for (let i = 0; i < 3; i++) await post(`/orchestrators/httpEcho/${prefix}-${i}`, String(i));
    for (let i = 0; i < 3; i++) await client.waitForCompletion(`${prefix}-${i}`, { timeoutMs: 30_000 });
    const all = await json(await api(`/instances/?instanceIdPrefix=${prefix}`));
    expect(all.map((s: any) => s.instanceId).sort()).toEqual([0, 1, 2].map((i) => `${prefix}-${i}`));
    expect(all[0]).toHaveProperty('input');
    expect((await api('/instances')).status).toBe(200);
    const completed = await json(await api('/instances/?runtimeStatus=Completed,Failed'));
    expect(completed.every((s: any) => ['Completed', 'Failed'].includes(s.runtimeStatus))).toBe(true);
    // Walk every page of one item: the pages together are the whole list, once each.
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const r: Response = await api('/instances/?top=1', { headers: token ? { 'x-ms-continuation-token': token } : {} });
      const page = await json(r);
      expect(page.length).toBeLessThanOrEqual(1);
      seen.push(...page.map((s: any) => s.instanceId));
      token = r.headers.get('x-ms-continuation-token');
      pages++;
    } while (token && pages < 500);
    const everything = await json(await api('/instances/?top=1000'));
    expect(seen.sort()).toEqual(everything.map((s: any) => s.instanceId).sort());
    expect((await api('/instances/?runtimeStatus=Sleeping')).status).toBe(400);
    expect((await api('/instances/?createdTimeFrom=yesterday')).status).toBe(400);
  });

  it('purges one instance (200 { instancesDeleted: 1 }, then 404) and by filter', async () => {
    const { id } = await json(await post('/orchestrators/httpEcho', '1'));
    await client.waitForCompletion(id, { timeoutMs: 30_000 });
    const r = await api(`/instances/${id}`, { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(await json(r)).toEqual({ instancesDeleted: 1 });
    expect((await api(`/instances/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await api(`/instances/${id}`)).status).toBe(404);
    const running = await startWaiting();
    expect((await api(`/instances/${running}`, { method: 'DELETE' })).status).toBe(400);
    const from = new Date().toISOString();
    const { id: a } = await json(await post('/orchestrators/httpEcho', '1'));
    await client.waitForCompletion(a, { timeoutMs: 30_000 });
    const byFilter = await api(`/instances/?runtimeStatus=Completed&createdTimeFrom=${from}`, { method: 'DELETE' });
    expect(byFilter.status).toBe(200);
    expect((await json(byFilter)).instancesDeleted).toBeGreaterThanOrEqual(1);
    expect((await api(`/instances/${a}`)).status).toBe(404);
    expect((await api(`/instances/${running}`)).status).toBe(202);
  });
});

describe('long poll and SSE', () => {
  it('holds a status request until the instance finishes, or answers 202 after the wait', async () => {
    const id = await startWaiting();
    const t0 = Date.now();
    const early = await api(`/instances/${id}?waitForCompletion=400ms`);
    expect(early.status).toBe(202);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    const pending = api(`/instances/${id}?waitForCompletion=30s`);
    setTimeout(() => void post(`/instances/${id}/raiseEvent/go`, '"now"'), 300);
    const t1 = Date.now();
    const done = await pending;
    expect(done.status).toBe(200);
    expect((await json(done)).output).toEqual({ got: 'now' });
    expect(Date.now() - t1).toBeLessThan(10_000);
    expect((await api(`/instances/${id}?waitForCompletion=2000`)).status).toBe(200);
    expect((await api(`/instances/${id}?waitForCompletion=forever`)).status).toBe(400);
    expect((await api(`/instances/nobody?waitForCompletion=5s`)).status).toBe(404);
  });

  it('streams status changes as Server-Sent Events until terminal', async () => {
    const id = await startWaiting();
    await untilStatus(id, 'Running');
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 15_000);
    const r = await api(`/instances/${id}/events`, { signal: ac.signal });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    setTimeout(() => void post(`/instances/${id}/raiseEvent/go`, '2'), 300);
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
    clearTimeout(timer);
    const events = text
      .split('\n\n')
      .filter((b) => b.includes('event: status'))
      .map((b) =>
        JSON.parse(
          b
            .split('\n')
            .find((l) => l.startsWith('data: '))!
            .slice(6),
        ),
      );
    expect(events[0].runtimeStatus).toBe('Running');
    expect(events.at(-1)).toMatchObject({ runtimeStatus: 'Completed', output: { got: 2 } });
    expect((await api('/instances/nobody/events')).status).toBe(404);
  });
});

describe('entities', () => {
  it('signals (202), reads state (200/404), calls (200) with keys of any shape', async () => {
    for (const key of ['plain', 'a/b', 'a b', 'ключ', 'a.b@c']) {
      const path = `/entities/counter/${encodeURIComponent(key)}`;
      expect((await api(path)).status).toBe(404);
      expect((await post(`${path}?op=add`, '5')).status).toBe(202);
      expect((await post(`${path}?op=add`, '2')).status).toBe(202);
      const call = await post(`${path}/call?op=get`);
      expect(call.status).toBe(200);
      expect(await json(call)).toBe(7);
      const state = await api(path);
      expect(state.status).toBe(200);
      expect(await json(state)).toEqual({ value: 7 });
    }
  });

  it('rejects bad operations, input and names with 400 before writing; operation errors are 422', async () => {
    const path = '/entities/counter/bad';
    for (const [url, body] of [
      [`${path}?op=add`, '"five"'],
      [`${path}?op=nope`, '1'],
      [path, '1'],
      ['/entities/nothing/x?op=add', '1'],
      [`${path}?op=add`, '{"x":'],
    ] as const) {
      const r = await post(url, body);
      expect(r.status, url).toBe(400);
      expect((await json(r)).error.code).toBe('validation');
    }
    expect((await api(path)).status).toBe(404);
    const failed = await post(`${path}/call?op=addPositive`, '-1');
    expect(failed.status).toBe(422);
    expect(await json(failed)).toMatchObject({ error: { code: 'operation-failed', message: 'negative amount -1' } });
  });

  it('lists entities (DF shape) with fetchState, by name, a page at a time', async () => {
    for (const k of ['l1', 'l2', 'l3']) await post(`/entities/aggregator/${k}?op=record`, '{"value":1}');
    await post('/entities/counter/l3/call?op=get');
    await post('/entities/aggregator/l3/call?op=summary');
    const byName = await json(await api('/entities/aggregator?fetchState=true'));
    expect(byName.map((e: any) => e.entityId.key)).toEqual(expect.arrayContaining(['l1', 'l2', 'l3']));
    expect(byName.every((e: any) => e.entityId.name === 'aggregator' && 'state' in e)).toBe(true);
    const all = await json(await api('/entities/'));
    expect(all.some((e: any) => e.entityId.name === 'counter')).toBe(true);
    expect(all.every((e: any) => !('state' in e))).toBe(true);
    const first = await api('/entities/aggregator?top=2');
    expect((await json(first)).length).toBe(2);
    const token = first.headers.get('x-ms-continuation-token')!;
    expect(token).toBeTruthy();
    const second = await json(await api('/entities/aggregator?top=2', { headers: { 'x-ms-continuation-token': token } }));
    expect(second.length).toBeGreaterThanOrEqual(1);
  });
});

describe('event-triggered starts', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
  });

  it('starts one instance from two raw publishes of the same instance id, found by that id', async () => {
    const js = jetstream(nc);
    const subject = startSubject(hub, 'httpWait');
    const id = uid('order');
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    await js.publish(subject, enc({ instanceId: id, input: { n: 1 } }), { msgID: `start-${id}` });
    const dupAck = await js.publish(subject, enc({ instanceId: id, input: { n: 1 } }), { msgID: `start-${id}` });
    expect(dupAck.duplicate).toBe(true);
    await untilStatus(id, 'Running');
    // Even a second start with another message id (a redelivery through another path) is a no-op.
    await js.publish(subject, enc({ instanceId: id, input: { n: 2 } }), { msgID: `other-${id}` });
    await new Promise((r) => setTimeout(r, 500));
    const s = await json(await api(`/instances/${id}`));
    expect(s.input).toEqual({ n: 1 });
    expect(await json(await api(`/instances/?instanceIdPrefix=${id}`))).toHaveLength(1);
    expect(await json(await fetch(`${http.url}/api/status/${id}`))).toEqual({ id, status: 'Running', result: null });
  });
});
