/**
 * The real `durable-nats` binary (bin/durable-nats.js, run from source) against a private
 * nats-server and a worker hosting the samples: output, --json, and the exit codes scripts use.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DurableClient, Worker } from '../../src/index.js';
import { entities, orchestrations, activities } from '../../orchestrations/index.js';
import { freePort, startNatsServer, type TestServer } from '../helpers/nats-server.js';

const hub = 'cli-test';
const BIN = resolve(import.meta.dirname, '../../bin/durable-nats.js');

let server: TestServer;
let worker: Worker;

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({ servers: server.url, hub, entities, orchestrations, activities, logger: pino({ level: 'warn' }) });
});

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, NATS_URL: server.url, DURABLE_NATS_HUB: hub, LOG_LEVEL: 'warn', ...extra };
}

function cli(args: string[], extra: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: env(extra) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`timed out: ${args.join(' ')}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

const uid = (p: string) => `${p}-${Math.random().toString(36).slice(2, 10)}`;

/** Starts a long-running command, waits for `ready` on stderr, returns it and a stopper. */
async function daemon(args: string[], ready: RegExp, extra: Record<string, string> = {}, cwd?: string) {
  const child = spawn(process.execPath, [BIN, ...args], { env: env(extra), ...(cwd ? { cwd } : {}) });
  let stderr = '';
  const match = await new Promise<RegExpExecArray>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`not ready: ${stderr}`)), 30_000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = ready.exec(stderr);
      if (m) {
        clearTimeout(timer);
        res(m);
      }
    });
    child.on('exit', (code) => rej(new Error(`exited ${code}: ${stderr}`)));
    child.stdout.resume();
  });
  const stop = async (signal: NodeJS.Signals = 'SIGINT') => {
    const exited = new Promise<number | string | null>((r) => child.once('exit', (code, sig) => r(code ?? `signal ${sig}: ${stderr}`)));
    child.kill(signal);
    return Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
  };
  return { child, match, stop, stderr: () => stderr };
}

describe('durable-nats CLI', () => {
  it('documents the exit codes in --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes:[\s\S]*7 {2}the instance finished but Failed or Terminated/);
    expect((await cli(['status'])).code).toBe(2);
    expect((await cli(['no-such-command'])).code).toBe(2);
  });

  it('starts and waits (--json on stdout only), shows status, lists and purges', async () => {
    const id = uid('hello');
    const r = await cli(['start', 'helloSequence', '--id', id, '--wait', '20s', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ instanceId: id, runtimeStatus: 'Completed', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] });
    const status = await cli(['status', id, '--json', '--history']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).history.length).toBeGreaterThan(0);
    const human = await cli(['status', id]);
    expect(human.stdout).toMatch(/status\s+Completed/);
    const list = JSON.parse((await cli(['list', '--prefix', id, '--json'])).stdout);
    expect(list.instances.map((x: any) => x.instanceId)).toEqual([id]);
    expect((await cli(['list', '--status', 'Completed'])).stdout).toContain(id);
    expect((await cli(['purge', id])).code).toBe(0);
    expect((await cli(['purge', id])).code).toBe(3);
    expect((await cli(['status', id])).code).toBe(3);
  });

  it('maps waits, events, conflicts and terminations to exit codes', async () => {
    const id = uid('approval');
    const started = await cli(['start', 'approvalWorkflow', '--id', id, '--input', JSON.stringify({ requestId: 'r1' })]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout.trim()).toBe(id);
    expect((await cli(['start', 'approvalWorkflow', '--id', id, '--input', '{"requestId":"r1"}'])).code).toBe(6);
    const timedOut = await cli(['wait', id, '--timeout', '1s']);
    expect(timedOut.code).toBe(4);
    expect(timedOut.stderr).toContain(`${id}:`);
    expect((await cli(['raise', id, 'Approval', '--data', '{"approved":true,"by":"ann"}'])).code).toBe(0);
    const done = await cli(['wait', id, '--timeout', '20s', '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).output).toMatchObject({ outcome: 'approved', by: 'ann' });
    expect((await cli(['raise', id, 'Approval'])).code).toBe(6);

    const t = uid('term');
    await cli(['start', 'approvalWorkflow', '--id', t, '--input', '{"requestId":"r2"}']);
    expect((await cli(['suspend', t, '--reason', 'pause'])).code).toBe(0);
    expect((await cli(['resume', t])).code).toBe(0);
    expect((await cli(['terminate', t, '--reason', 'stop'])).code).toBe(0);
    expect((await cli(['wait', t, '--timeout', '20s'])).code).toBe(7);
    expect((await cli(['terminate', 'nobody'])).code).toBe(3);
  });

  it('rejects bad input with 2 and an unreachable NATS with 5', async () => {
    expect((await cli(['start', 'noSuchOrchestration'])).code).toBe(2);
    expect((await cli(['start', 'helloSequence', '--input', '{oops'])).code).toBe(2);
    expect((await cli(['signal', 'counter@x', 'add'])).code).toBe(2);
    expect((await cli(['signal', '@counter@x', 'add', '--input', '"five"'])).code).toBe(2);
    expect((await cli(['list', '--status', 'Sleeping'])).code).toBe(2);
    const port = await freePort();
    const r = await cli(['status', 'x'], { NATS_URL: `nats://127.0.0.1:${port}` });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/cannot connect/);
  });

  it('list --prefix pages over the matching instances only (full pages, then a token)', async () => {
    const client = await DurableClient.connect({ servers: server.url, hub });
    try {
      const tag = uid('pfx');
      // Older non-matching instances first: a page filtered after paging would be empty.
      for (let i = 0; i < 5; i++) await client.startNew('helloSequence', { instanceId: `${tag}-other-${i}`.replace('pfx', 'zzz') });
      const matching = [];
      for (let i = 0; i < 3; i++) matching.push(await client.startNew('helloSequence', { instanceId: `${tag}-${i}` }));
      // Settled first: a status that changes between pages may be listed again on a later page.
      await Promise.all(matching.map((id) => client.waitForCompletion(id, { timeoutMs: 20_000 })));
      const page1 = JSON.parse((await cli(['list', '--prefix', tag, '--page-size', '2', '--json'])).stdout);
      expect(page1.instances).toHaveLength(2);
      expect(page1.continuationToken).toEqual(expect.any(String));
      const page2 = JSON.parse((await cli(['list', '--prefix', tag, '--page-size', '2', '--token', page1.continuationToken, '--json'])).stdout);
      expect([...page1.instances, ...page2.instances].map((x: any) => x.instanceId).sort()).toEqual(matching);
    } finally {
      await client.close();
    }
  });

  it('signals, calls, reads and lists entities', async () => {
    const key = uid('k');
    expect((await cli(['state', `@counter@${key}`])).code).toBe(3);
    expect((await cli(['signal', `@counter@${key}`, 'add', '--input', '5'])).code).toBe(0);
    const call = await cli(['call', `@counter@${key}`, 'get', '--json']);
    expect(call.code, call.stderr).toBe(0);
    expect(JSON.parse(call.stdout)).toBe(5);
    expect(JSON.parse((await cli(['state', `@counter@${key}`, '--json'])).stdout)).toEqual({ value: 5 });
    const failed = await cli(['call', `@counter@${key}`, 'addPositive', '--input', '-1']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('negative amount -1');
    const list = JSON.parse((await cli(['entities', '--name', 'counter', '--state', '--json'])).stdout);
    expect(list.entities).toContainEqual({ id: `@counter@${key}`, state: { value: 5 } });
    expect((await cli(['entities'])).stdout).toContain(`@counter@${key}`);
  });

  it('serves the HTTP API until SIGTERM', async () => {
    const d = await daemon(['serve', '--port', '0', '--system-key', 'k1'], /HTTP API on (http:\/\/\S+)/);
    const url = d.match[1]!;
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true });
    expect((await fetch(`${url}/runtime/webhooks/durabletask/instances/?code=k1`)).status).toBe(200);
    expect(await d.stop('SIGTERM')).toBe(0);
  });

  it('dev starts nats-server when none answers, hosts the examples, and stops it all on SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dn-dev-'));
    const port = await freePort();
    try {
      const d = await daemon(['dev', '--port', '0'], /HTTP API on (http:\/\/\S+), system key (\S+)/, { NATS_URL: `nats://127.0.0.1:${port}`, DURABLE_NATS_HUB: 'devhub' }, dir);
      const [, url, key] = d.match;
      expect(d.stderr()).toMatch(/started nats-server .* \(pid \d+\)/);
      expect(existsSync(join(dir, '.nats-data'))).toBe(true);
      const base = `${url}/runtime/webhooks/durabletask`;
      expect((await fetch(`${base}/entities/counter/c1/call?op=add&code=${key}`, { method: 'POST', body: '3' })).status).toBe(200);
      const start = await fetch(`${base}/orchestrators/helloSequence?code=${key}`, { method: 'POST' });
      expect(start.status).toBe(202);
      const { statusQueryGetUri } = (await start.json()) as { statusQueryGetUri: string };
      const done = await fetch(`${statusQueryGetUri}&waitForCompletion=20s`);
      expect(done.status).toBe(200);
      expect(await d.stop('SIGINT')).toBe(0);
      const probe = await cli(['status', 'x'], { NATS_URL: `nats://127.0.0.1:${port}` });
      expect(probe.code).toBe(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs a worker for a --module of definitions', async () => {
    const d = await daemon(['worker', '--module', 'orchestrations/index.ts'], /worker \S+ on hub cli-test \((.*)\)/);
    expect(d.match[1]).toContain('hellosequence');
    expect(await d.stop('SIGTERM')).toBe(0);
  });
});
