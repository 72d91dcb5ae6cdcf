/**
 * Durable Functions' own JavaScript client (`durable-functions` 3.x), unchanged, against the
 * HTTP API: it is built from the binding data served at `{webhooks}/client-data` and must start,
 * query, page, signal, raise, suspend, resume, terminate, rewind and purge as it does in Azure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import * as df from 'durable-functions';
import { DurableClient, Worker } from '../../src/index.js';
import { createHttpServer, type HttpServer } from '../../src/http/index.js';
import { entities, orchestrations, activities } from '../../orchestrations/index.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

const hub = 'http-df-client';
const KEY = 'df-key';

let server: TestServer;
let worker: Worker;
let client: DurableClient;
let http: HttpServer;
let dfc: df.DurableClient;

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({ servers: server.url, hub, entities, orchestrations, activities, logger: pino({ level: 'warn' }) });
  client = await DurableClient.connect({ servers: server.url, hub });
  http = await createHttpServer({ servers: server.url, hub, systemKey: KEY, port: 0, logger: pino({ level: 'warn' }) });
  const data = await (await fetch(`${http.url}/runtime/webhooks/durabletask/client-data?code=${KEY}`)).json();
  // Outside Azure, getClient rewrites every URL to localhost:7071 unless WEBSITE_HOSTNAME is set.
  process.env.WEBSITE_HOSTNAME = 'durable-nats-test';
  const input = df.input.durableClient();
  dfc = df.getClient({ options: { extraInputs: [input] }, extraInputs: { get: () => data } } as any);
});

afterAll(async () => {
  await http?.close();
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

const uid = (p: string) => `${p}-${Math.random().toString(36).slice(2, 10)}`;

describe('durable-functions client, unchanged', () => {
  it('starts, reads status (never 404 after a start) and sees completion', async () => {
    const id = await dfc.startNew('helloSequence');
    const first = await dfc.getStatus(id);
    expect(['Pending', 'Running', 'Completed']).toContain(first.runtimeStatus);
    await client.waitForCompletion(id, { timeoutMs: 20_000 });
    const done = await dfc.getStatus(id, { showHistory: true, showHistoryOutput: true });
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    const payload = dfc.createHttpManagementPayload(id);
    expect(payload.statusQueryGetUri).toBe(`${http.url}/runtime/webhooks/durabletask/instances/${id}?taskHub=${hub}&connection=Storage&code=${KEY}`);
  });

  it('raises events, suspends, resumes, terminates; a finished instance is not an error', async () => {
    const id = uid('approval');
    expect(await dfc.startNew('approvalWorkflow', { instanceId: id, input: { requestId: 'r1' } })).toBe(id);
    await dfc.suspend(id, 'pause');
    await dfc.resume(id, 'go on');
    await dfc.raiseEvent(id, 'Approval', { approved: true, by: 'bo' });
    const done = await client.waitForCompletion(id, { timeoutMs: 20_000 });
    expect(done.output).toMatchObject({ outcome: 'approved', by: 'bo' });
    await dfc.raiseEvent(id, 'Approval', { approved: false }); // 410: accepted silently, as in Azure
    await dfc.terminate(id, 'late'); // 410 as well
    await expect(dfc.rewind(id, 'no')).rejects.toThrow(); // 412, as in Azure
    await expect(dfc.terminate('nobody', 'x')).rejects.toThrow(/No instance with ID 'nobody'/);

    const t = uid('term');
    await dfc.startNew('approvalWorkflow', { instanceId: t, input: { requestId: 'r2' } });
    await dfc.terminate(t, 'stop');
    expect((await client.waitForCompletion(t, { timeoutMs: 20_000 })).runtimeStatus).toBe('Terminated');
    await expect(dfc.getStatus('nobody')).rejects.toThrow(/404/);
  });

  it('lists (following continuation tokens) and purges', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await dfc.startNew('helloSequence', { instanceId: uid(`list${i}`) }));
    for (const id of ids) await client.waitForCompletion(id, { timeoutMs: 20_000 });
    const all = await dfc.getStatusAll();
    expect(all.map((s) => s.instanceId)).toEqual(expect.arrayContaining(ids));
    const completed = await dfc.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Completed] });
    expect(completed.every((s) => s.runtimeStatus === 'Completed')).toBe(true);
    expect(await dfc.purgeInstanceHistory(ids[0]!)).toEqual({ instancesDeleted: 1 });
    expect((await dfc.purgeInstanceHistory(ids[0]!)).instancesDeleted).toBe(0);
    const purged = await dfc.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), runtimeStatus: [df.OrchestrationRuntimeStatus.Completed] });
    expect(purged.instancesDeleted).toBeGreaterThanOrEqual(2);
  });

  it('signals entities and reads their state', async () => {
    const id = new df.EntityId('counter', uid('c'));
    expect((await dfc.readEntityState(id)).entityExists).toBe(false);
    await dfc.signalEntity(id, 'add', 5);
    await client.callEntity(`@counter@${id.key}`, 'get');
    expect(await dfc.readEntityState(id)).toMatchObject({ entityExists: true, entityState: { value: 5 } });
  });
});
