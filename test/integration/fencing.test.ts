/**
 * Fencing: a worker that lost its claim cannot write.
 *
 * 1. Foreign writer (deterministic, in-process). Injected: while a worker holds an entity in its
 *    cache, another writer appends to the entity's event subject (a copy of the last event, so the
 *    state is unchanged). Checked: the worker's next append is rejected by
 *    Nats-Expected-Last-Subject-Sequence (durable_fenced_appends_total moves), it reloads and
 *    retries, and the total is exact.
 * 2. Paused worker (SIGSTOP, real processes, LEASE_MS 1500). Injected: of two workers, one is
 *    SIGSTOPped in the middle of a signal stream; its partitions move to the other; it is
 *    SIGCONTed ~3 s later, with batches and lease state from before the pause. Checked: the
 *    survivor owns all 16 partitions during the pause; after SIGCONT the paused worker's lease
 *    renewal CAS fails (logged "lease renewal failed"), the partitions are spread 8/8 again; exact
 *    counter totals (no double apply, nothing lost).
 *    (Orchestrations in flight across the pause are not asserted here: a paused worker's late
 *    status write can overwrite a newer status; reported, see the scale-out report.)
 */
import { natsOf } from '../../src/store/nats-hub.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DurableClient, EntityId, Worker } from '../../src/index.js';
import { entityActorToken, entityPartition, eventSubject } from '../../src/core/topology.js';
import { counter } from '../../entities/counter.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/processes.js';
import { countOwners, leaseOwners, sendSignals, startOrchestrations, waitFor, wrongOrchestrations, wrongTotals } from '../helpers/nats-cluster.js';

let server: TestServer;
const procs: WorkerProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null) process.kill(p.pid, 'SIGCONT');
    await p.kill('SIGKILL');
  }
  await server?.stop();
});

describe('fencing', () => {
  it('an append over a sequence the worker did not write is rejected, reloaded and retried', async () => {
    const hub = 'fence-foreign';
    const worker = await Worker.start({ servers: server.url, hub, entities: [counter], logger: pino({ level: 'warn' }) });
    const client = await DurableClient.connect({ servers: server.url, hub });
    try {
      const id = new EntityId('counter', 'f');
      for (let i = 0; i < 50; i++) await client.signalEntity(id, 'add', 1);
      expect(await client.callEntity(id, 'get')).toBe(50); // now cached with its last event sequence

      // The foreign write: the last event again, fenced itself on the current last sequence.
      const subject = eventSubject(hub, entityPartition(id, client.hub.config.partitions), entityActorToken(id));
      const last = await natsOf(client.hub).jsm.streams.getMessage(client.hub.names.eventStream, { last_by_subj: subject });
      await natsOf(client.hub).js.publish(subject, last!.data, { expect: { lastSubjectSequence: last!.seq } });

      const fencedBefore = (await worker.metrics.fenced.get()).values[0]?.value ?? 0;
      for (let i = 0; i < 50; i++) await client.signalEntity(id, 'add', 1);
      expect(await client.callEntity(id, 'get')).toBe(100);
      const fencedAfter = (await worker.metrics.fenced.get()).values[0]?.value ?? 0;
      expect(fencedAfter).toBeGreaterThan(fencedBefore);
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 60_000);

  it('SIGSTOP of a worker mid-stream: its partitions move, and after SIGCONT it cannot double-apply', async () => {
    const hub = 'fence-pause';
    const spawn = async (id: string) => {
      const p = await startWorkerProcess({ NATS_URL: server.url, HUB: hub, LEASE_MS: '1500', WORKER_ID: id });
      procs.push(p);
      return p;
    };
    const a = await spawn('a');
    const b = await spawn('b');
    const client = await DurableClient.connect({ servers: server.url, hub });
    await waitFor('an 8/8 spread', async () => JSON.stringify(countOwners(await leaseOwners(client))) === '{"a":8,"b":8}', 10_000);

    let pausedFor = 0;
    let instances: Awaited<ReturnType<typeof startOrchestrations>> | undefined;
    const expected = await sendSignals(client, 'pause', 500, 24_000, async (sent) => {
      // Orchestrations in flight too: a paused owner's late status writes must not win.
      if (sent === 4_000) instances = await startOrchestrations(client, 'pause', 30, 4);
      if (sent === 5_000) {
        // Paused in the middle of the stream: b has batches and activities in flight.
        process.kill(b.pid, 'SIGSTOP');
        const t0 = Date.now();
        await waitFor('a to own all 16', async () => JSON.stringify(countOwners(await leaseOwners(client))) === '{"a":16}', 15_000);
        await new Promise((r) => setTimeout(r, 1_500)); // a works b's partitions for a while
        pausedFor = Date.now() - t0;
        process.kill(b.pid, 'SIGCONT');
      }
      await new Promise((r) => setTimeout(r, 50));
    });
    expect(pausedFor).toBeGreaterThan(1_500);
    await waitFor('b to take its share back', async () => JSON.stringify(countOwners(await leaseOwners(client))) === '{"a":8,"b":8}', 15_000);
    // The paused worker found its leases taken: the renewal CAS failed and it stopped writing.
    expect(b.output()).toMatch(/lease renewal failed; stopping the partition/);

    expect(await wrongTotals(client, expected)).toEqual([]);
    expect(await wrongOrchestrations(client, instances!)).toEqual([]);
    await a.kill('SIGTERM');
    await b.kill('SIGTERM');
    await client.close();
  }, 150_000);
});
