/** HTTP routes of entity history (versions, history, SSE watch, restore) and schedules, behind the system key. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DurableClient, orchestration, Worker } from '../../src/index.js';
import { createHttpServer, type HttpServer } from '../../src/http/index.js';
import { counter } from '../../entities/counter.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

const hub = 'http-hist';
const KEY = 'k-hist';
const noop = orchestration('schedNoop', function* () {
  return 1;
});

let server: TestServer;
let worker: Worker;
let client: DurableClient;
let http: HttpServer;
let B: string;

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({ servers: server.url, hub, entities: [counter], orchestrations: [noop], logger: pino({ level: 'warn' }) });
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

const get = (path: string) => fetch(`${B}${path}${path.includes('?') ? '&' : '?'}code=${KEY}`);
const body = async (r: Promise<Response> | Response): Promise<any> => (await r).json();
const post = (path: string, body?: unknown) => fetch(`${B}${path}?code=${KEY}`, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

describe('HTTP entity history', () => {
  it('version, at, history, restore; the key is required', async () => {
    await client.callEntity('@counter@x', 'add', 4);
    const v1 = (await client.readEntityState('@counter@x')).version!;
    await client.callEntity('@counter@x', 'add', 6);
    expect((await fetch(`${B}/entities/counter/x/history`)).status).toBe(401);

    const byVersion = await body(get(`/entities/counter/x?version=${v1}`));
    expect(byVersion).toMatchObject({ exists: true, state: { value: 4 }, version: v1 });
    expect(typeof byVersion.time).toBe('string');
    const byTime = await body(get(`/entities/counter/x?at=${encodeURIComponent(byVersion.time)}`));
    expect(byTime.version).toBe(v1);
    expect((await get('/entities/counter/x?version=abc')).status).toBe(400);
    await client.callEntity('@counter@other', 'add', 1);
    const other = (await client.readEntityState('@counter@other')).version!;
    expect((await get(`/entities/counter/x?version=${other}`)).status).toBe(404); // another entity's version
    expect(await body(get('/entities/counter/x'))).toEqual({ value: 10 }); // today's route unchanged

    const h = await body(get('/entities/counter/x/history?limit=1&reverse=true'));
    expect(h.versions).toHaveLength(1);
    expect(h.versions[0]).toMatchObject({ state: { value: 10 }, operations: [{ op: 'add', input: 6 }] });
    expect(h.next).toBe(v1);

    const r = await post('/entities/counter/x/restore', { version: v1 });
    expect(r.status).toBe(200);
    const { version } = await body(r);
    expect(version).toBeGreaterThan(v1);
    expect(await client.callEntity('@counter@x', 'get')).toBe(4);
    expect((await post('/entities/counter/x/restore', {})).status).toBe(400);
  });

  it('watch streams the current version, then each new one, as SSE', async () => {
    await client.callEntity('@counter@sse', 'add', 1);
    const ac = new AbortController();
    const res = await fetch(`${B}/entities/counter/sse/watch?code=${KEY}`, { signal: ac.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const events: Array<{ version: number; state: { value: number } }> = [];
    let buf = '';
    const readUntil = async (n: number) => {
      while (events.length < n) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += new TextDecoder().decode(value);
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
      }
    };
    await readUntil(1);
    await client.signalEntity('@counter@sse', 'add', 1);
    await client.signalEntity('@counter@sse', 'add', 1);
    await readUntil(3);
    ac.abort();
    expect(events.map((e) => e.state.value).slice(0, 3)).toEqual([1, 2, 3]);
    expect(events[1]!.version).toBeGreaterThan(events[0]!.version);
  });
});

describe('HTTP schedules', () => {
  it('create 201/409/400, get, list, pause, resume, trigger, delete 200/404', async () => {
    const def = { id: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Paris', action: { startNew: { name: 'schedNoop' } }, startAt: '2030-01-01T00:00:00Z' };
    const created = await post('/schedules', def);
    expect(created.status).toBe(201);
    expect(await body(created)).toMatchObject({ id: 'nightly', cron: '0 2 * * *', nextRuns: expect.arrayContaining(['2030-01-01T01:00:00.000Z']) });
    expect((await post('/schedules', def)).status).toBe(409);
    expect((await post('/schedules', { ...def, id: 'bad', cron: '* *' })).status).toBe(400);
    expect((await body(get('/schedules'))).schedules.map((s: { id: string }) => s.id)).toEqual(['nightly']);
    expect((await get('/schedules/none')).status).toBe(404);
    expect((await post('/schedules/nightly/pause')).status).toBe(200);
    expect(await body(get('/schedules/nightly'))).toMatchObject({ paused: true });
    expect((await post('/schedules/nightly/resume')).status).toBe(200);
    const trig = await body(post('/schedules/nightly/trigger'));
    expect(trig.instanceId).toMatch(/^nightly@/);
    expect((await client.waitForCompletion(trig.instanceId, { timeoutMs: 30_000 })).runtimeStatus).toBe('Completed');
    expect((await fetch(`${B}/schedules/nightly?code=${KEY}`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${B}/schedules/nightly?code=${KEY}`, { method: 'DELETE' })).status).toBe(404);
  });
});
