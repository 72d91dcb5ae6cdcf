/**
 * replayHistory takes what a real hub records: histories exported by the real `durable-nats`
 * binary (`status <id> --history --json`, run from source) and by `getStatus(id, { showHistory })`
 * after a worker ran the samples on a private nats-server, replayed against today's and changed code.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DurableClient, DurableError, orchestration, Worker } from '../../src/index.js';
import { replayHistory } from '../../src/testing/index.js';
import { approvalWorkflow, escalate } from '../../orchestrations/human-interaction.js';
import { helloSequence, sayHello } from '../../orchestrations/hello-sequence.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

const hub = 'replay-cli';
const BIN = resolve(import.meta.dirname, '../../bin/durable-nats.js');
let server: TestServer;
let worker: Worker;
let client: DurableClient;

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({
    servers: server.url,
    hub,
    partitions: 2,
    orchestrations: [helloSequence, approvalWorkflow],
    activities: [sayHello, escalate],
    logger: pino({ level: 'warn' }),
  });
  client = await DurableClient.connect({ servers: server.url, hub });
}, 30_000);

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

function statusJson(id: string): Promise<unknown> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, 'status', id, '--history', '--json'], {
      env: { ...process.env, NATS_URL: server.url, DURABLE_NATS_HUB: hub, DURABLE_NATS_FROM_SOURCE: '1', LOG_LEVEL: 'warn' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`CLI timed out: ${err}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) rej(new Error(`CLI exited ${code}: ${err}`));
      else res(JSON.parse(out));
    });
  });
}

it('replays a completed and a running instance exported by the CLI and by getStatus', async () => {
  const done = await client.startNew('helloSequence', { instanceId: 'hello-replay' });
  await client.waitForCompletion(done, { timeoutMs: 15_000 });
  const waiting = await client.startNew('approvalWorkflow', { instanceId: 'approval-replay', input: { requestId: 'r1' } });
  await expect.poll(async () => (await client.getStatus(waiting))?.customStatus, { timeout: 10_000 }).toBe('waiting for approval');

  const exported = await statusJson(done);
  expect(replayHistory(helloSequence, exported as never)).toMatchObject({
    instanceId: done,
    runtimeStatus: 'Completed',
    output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
    steps: 3,
  });
  const running = await client.getStatus(waiting, { showHistory: true });
  expect(replayHistory(approvalWorkflow, running!.history!)).toMatchObject({ runtimeStatus: 'Running', customStatus: 'waiting for approval', steps: 1 });
  expect(replayHistory(approvalWorkflow, (await statusJson(waiting)) as never).runtimeStatus).toBe('Running');

  // The deploy that would break in-flight instances: a step renamed, a step added before the wait.
  const renamed = orchestration('helloSequence', function* (ctx) {
    const out: string[] = [];
    for (const city of ['Tokyo', 'Seattle', 'London']) out.push(yield ctx.callActivity(city === 'London' ? 'greet' : 'sayHello', city));
    return out;
  });
  const e = (() => {
    try {
      replayHistory(renamed, exported as never);
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  expect(DurableError.is(e, 'nondeterminism')).toBe(true);
  expect((e as DurableError).details).toMatchObject({ step: 3, expected: "callActivity('sayhello')", actual: "callActivity('greet')" });
  const checksFirst = orchestration('approvalWorkflow', function* (ctx, input: { requestId: string }) {
    yield ctx.callActivity('escalate', input.requestId);
    return yield* approvalWorkflow.fn(ctx, input) as Generator<unknown, unknown, unknown>;
  });
  expect(() => replayHistory(checksFirst, running!.history!)).toThrow(/history expected createTimer at step 1 but code did callActivity\('escalate'\)/);
}, 60_000);
