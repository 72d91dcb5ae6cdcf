/** The `durable-nats` CLI (from source) for entity history, state at a version, watch --json, restore and schedules. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DurableClient, Worker } from '../../src/index.js';
import { entities, orchestrations, activities } from '../../orchestrations/index.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

const hub = 'cli-hist';
const BIN = resolve(import.meta.dirname, '../../bin/durable-nats.js');
let server: TestServer;
let worker: Worker;
let client: DurableClient;

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({ servers: server.url, hub, entities, orchestrations, activities, logger: pino({ level: 'warn' }) });
  client = await DurableClient.connect({ servers: server.url, hub });
});

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

const env = () => ({ ...process.env, NATS_URL: server.url, DURABLE_NATS_HUB: hub, LOG_LEVEL: 'warn', DURABLE_NATS_FROM_SOURCE: '1' });

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: env() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`timed out: ${args.join(' ')}\n${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

describe('CLI history and schedules', () => {
  it('history --json, state --version/--at, restore', async () => {
    await client.callEntity('@counter@c1', 'add', 3);
    await client.callEntity('@counter@c1', 'add', 4);
    const h = await cli(['history', '@counter@c1', '--json']);
    expect(h.code).toBe(0);
    const versions = JSON.parse(h.stdout).versions as Array<{ version: number; time: string; operations: unknown[] }>;
    expect(versions.map((v) => v.operations)).toEqual([[{ op: 'add', input: 3 }], [{ op: 'add', input: 4 }]]);
    const s = await cli(['state', '@counter@c1', '--version', String(versions[0]!.version), '--json']);
    expect(JSON.parse(s.stdout)).toMatchObject({ version: versions[0]!.version, state: { value: 3 } });
    const at = await cli(['state', '@counter@c1', '--at', versions[0]!.time, '--json']);
    expect(JSON.parse(at.stdout)).toMatchObject({ version: versions[0]!.version });
    expect((await cli(['state', '@counter@c1', '--version', '1', '--at', versions[0]!.time])).code).not.toBe(0);
    const r = await cli(['restore', '@counter@c1', '--version', String(versions[0]!.version), '--json']);
    expect(r.code).toBe(0);
    expect(await client.callEntity('@counter@c1', 'get')).toBe(3);
    const human = await cli(['history', '@counter@c1']);
    expect(human.stdout).toContain('__restore');
  }, 60_000);

  it('watch --json prints one JSON line per version', async () => {
    await client.callEntity('@counter@c2', 'add', 1);
    const child: ChildProcess = spawn(process.execPath, [BIN, 'watch', '@counter@c2', '--json'], { env: env() });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const lines = () => out.split('\n').filter(Boolean);
    const waitLines = async (n: number) => {
      for (let i = 0; i < 300 && lines().length < n; i++) await new Promise((r) => setTimeout(r, 50));
    };
    await waitLines(1);
    await client.signalEntity('@counter@c2', 'add', 1);
    await client.signalEntity('@counter@c2', 'add', 1);
    await waitLines(3);
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    expect(
      lines()
        .slice(0, 3)
        .map((l) => JSON.parse(l).state.value),
    ).toEqual([1, 2, 3]);
  }, 60_000);

  it('schedule create/list/get/trigger/pause/resume/delete', async () => {
    const c = await cli(['schedule', 'create', 'cli-s', '--every', '1h', '--signal', '@counter@cs', '--op', 'add', '--input', '5', '--json']);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ id: 'cli-s', every: 3_600_000 });
    expect((await cli(['schedule', 'create', 'cli-s', '--every', '1h', '--signal', '@counter@cs', '--op', 'add'])).code).not.toBe(0);
    expect((await cli(['schedule', 'create', 'bad', '--cron', 'x y', '--start', 'helloSequence'])).code).not.toBe(0);
    expect(JSON.parse((await cli(['schedule', 'list', '--json'])).stdout).schedules.map((s: { id: string }) => s.id)).toEqual(['cli-s']);
    expect((await cli(['schedule', 'trigger', 'cli-s'])).code).toBe(0);
    expect((await cli(['schedule', 'pause', 'cli-s'])).code).toBe(0);
    expect(JSON.parse((await cli(['schedule', 'get', 'cli-s', '--json'])).stdout)).toMatchObject({ paused: true });
    expect((await cli(['schedule', 'resume', 'cli-s'])).code).toBe(0);
    expect((await cli(['schedule', 'delete', 'cli-s'])).code).toBe(0);
    expect((await cli(['schedule', 'get', 'cli-s'])).code).toBe(3);
    expect(await client.callEntity('@counter@cs', 'get')).toBe(5);
  }, 90_000);
});
