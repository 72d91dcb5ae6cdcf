/**
 * The fence every owner relies on (event appends, lease CAS through KV update) is JetStream's
 * Nats-Expected-Last-Subject-Sequence. This file checks the server honours it under concurrency:
 * N publishes to one subject, all expecting the same last sequence, sent back to back. Exactly
 * one may be stored; every other one must be rejected (wrong last sequence, 10071).
 *
 * Checked on the private 3-node cluster (R3 stream) and on a single server (R1 stream).
 * nats-server 2.9.10 checks an expected sequence > 0 on a clustered stream only before proposing,
 * against the leader's store, which does not yet hold the proposals in flight (fixed in 2.9.21
 * by nats-io/nats-server 244dda809: the check is repeated when the entry is applied).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { LeanPublisher } from '../../src/store/lean-publisher.js';
import { startNatsCluster, type TestCluster } from '../helpers/nats-cluster.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

let cluster: TestCluster;
let single: TestServer;

beforeAll(async () => {
  [cluster, single] = await Promise.all([startNatsCluster(), startNatsServer()]);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  await single?.stop();
});

/** Rounds of `n` concurrent fenced appends; returns how many were stored per round. */
async function racingAppends(nc: NatsConnection, replicas: number, rounds: number, n: number): Promise<number[]> {
  const jsm = await jetstreamManager(nc);
  const stream = `FENCE_R${replicas}`;
  await jsm.streams.add({ name: stream, subjects: [`fence${replicas}.>`], num_replicas: replicas, storage: 'file' as any });
  const pub = new LeanPublisher(nc);
  const subject = `fence${replicas}.x`;
  let last = (await pub.publish(subject, new TextEncoder().encode('0'), { expectedLastSubjectSequence: 0 })).seq;
  const stored: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) =>
      pub.publish(subject, new TextEncoder().encode(`${r}.${i}`), { expectedLastSubjectSequence: last })));
    const ok = results.filter((x): x is PromiseFulfilledResult<{ seq: number; stream: string; duplicate: boolean }> => x.status === 'fulfilled');
    stored.push(ok.length);
    const info = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    last = info!.seq;
  }
  pub.close();
  return stored;
}

describe('Nats-Expected-Last-Subject-Sequence under concurrency', () => {
  it('single server (R1): exactly one of the racing appends is stored', async () => {
    const nc = await connect({ servers: single.url });
    const stored = await racingAppends(nc, 1, 20, 8);
    await nc.close();
    expect(stored.every((s) => s === 1), JSON.stringify(stored)).toBe(true);
  }, 60_000);

  it('3-node cluster (R3): exactly one of the racing appends is stored', async () => {
    const nc = await connect({ servers: cluster.urls });
    const stored = await racingAppends(nc, 3, 20, 8);
    await nc.close();
    console.log(`R3: stored per round of 8 racing fenced appends: ${JSON.stringify(stored)}`);
    expect(stored.every((s) => s === 1), JSON.stringify(stored)).toBe(true);
  }, 60_000);
});
