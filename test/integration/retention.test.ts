/**
 * Retention: bounded storage without losing anything.
 *
 * 1. Entity versions behind the checkpoint (the hazard in shared/ARCHITECTURE.md: effects live in
 *    events, and a hot entity commits many batches per lease period). Injected: retention of 2
 *    versions per entity, a hot relay entity whose every operation signals a counter, two worker
 *    processes, one SIGKILLed twice mid-stream (restarted each time). Checked: exact totals on
 *    both sides (nothing applied twice, no effect lost) and each entity's event subject holds at
 *    most a few versions.
 * 2. Finished instances: a sweep purges Completed instances older than the retention and keeps
 *    running and recent ones.
 */
import { natsOf } from '../../src/store/nats-hub.js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { entityActorToken, entityPartition, eventSubject } from '../../src/core/topology.js';
import { DurableClient, EntityId, Worker } from '../../src/index.js';
import { InstanceRetention } from '../../src/worker/instance-retention.js';
import { retrying, waitFor } from '../helpers/nats-cluster.js';
import { useServerAndWorkers } from '../helpers/worker-env.js';
import * as fixtures from '../fixtures/test-orchestrations.js';

const env = useServerAndWorkers(1500);
const spawn = (hub: string, id: string) => env.spawn(hub, id, { RETENTION_VERSIONS: '2' });

describe('retention', () => {
  it('keeps 2 versions per entity and still applies every signal and effect exactly once across SIGKILLs', async () => {
    const hub = 'retention-entities';
    const workers = [await spawn(hub, 'a'), await spawn(hub, 'b')];
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    const total = 6_000;
    const inFlight = new Set<Promise<unknown>>();
    let kills = 0;
    for (let i = 0; i < total; i++) {
      const key = `k${i % 20}`;
      const p: Promise<unknown> = retrying(() => client.signalEntity(new EntityId('relay', 'hot'), 'hop', { n: 1, to: 'sink' }, { idempotencyKey: `hop:${i}` }))
        .then(() => retrying(() => client.signalEntity(new EntityId('counter', key), 'add', 1, { idempotencyKey: `add:${i}` })))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 128) await Promise.race(inFlight);
      if (i === 2_000 || i === 4_000) {
        const victim = workers[kills % 2]!;
        await victim.kill('SIGKILL');
        workers[kills % 2] = await spawn(hub, `r${kills}`);
        kills++;
      }
    }
    await Promise.all(inFlight);
    expect(kills).toBe(2);
    const call = (id: EntityId, op: string) => retrying(() => client.callEntity<number>(id, op, undefined, { timeoutMs: 30_000 }));
    expect(await call(new EntityId('relay', 'hot'), 'get')).toBe(total);
    // The sink gets the relay's effects: wait until they are all in, then check none is doubled.
    const sink = await waitFor(
      'the sink to receive every effect',
      async () => {
        const v = await call(new EntityId('counter', 'sink'), 'get');
        return v >= total ? v : undefined;
      },
      60_000,
      200,
    );
    expect(sink).toBe(total);
    for (let k = 0; k < 20; k++) expect(await call(new EntityId('counter', `k${k}`), 'get')).toBe(total / 20);
    // Bounded: trims keep 2 and run every 2 versions; a trim lost in a crash is only late.
    const count = async (id: EntityId) => {
      const subject = eventSubject(hub, entityPartition(id, client.hub.config.partitions), entityActorToken(id));
      const info = await natsOf(client.hub).jsm.streams.info(client.hub.names.eventStream, { subjects_filter: subject });
      return info.state.subjects?.[subject] ?? 0;
    };
    await new Promise((r) => setTimeout(r, 500));
    for (const id of [new EntityId('relay', 'hot'), new EntityId('counter', 'sink'), new EntityId('counter', 'k3')]) {
      expect(await count(id), id.toString()).toBeLessThanOrEqual(8);
    }
    await client.close();
  }, 180_000);

  it('purges instances that finished longer ago than the retention, and keeps the others', async () => {
    const hub = 'retention-instances';
    const logger = pino({ level: 'silent' });
    const worker = await Worker.start({ servers: env.server().url, hub, orchestrations: fixtures.orchestrations, activities: fixtures.activities, logger });
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    try {
      const done = await Promise.all([0, 1, 2].map((i) => client.startNew('helloSequence', { instanceId: `old-${i}` })));
      for (const id of done) expect((await client.waitForCompletion(id, { timeoutMs: 30_000 })).runtimeStatus).toBe('Completed');
      const waiting = await client.startNew('waitForGo', { instanceId: 'still-running' });
      await waitFor('running', async () => (await client.getStatus(waiting))?.runtimeStatus === 'Running', 10_000);
      const sweeper = new InstanceRetention({ hub: client.hub, logger, afterMs: 60_000, isSweeper: () => true });
      expect(await sweeper.sweep(Date.now())).toBe(0); // finished, but not long enough ago
      expect(await sweeper.sweep(Date.now() + 120_000)).toBe(3);
      for (const id of done) {
        expect(await client.getStatus(id)).toBeUndefined();
        expect(await client.readHistory(id)).toEqual([]);
      }
      expect((await client.getStatus(waiting))?.runtimeStatus).toBe('Running');
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 60_000);
});
