/**
 * The fence every owner relies on (event appends) is JetStream's Nats-Expected-Last-Subject-
 * Sequence, sent by LeanPublisher. This file checks it under concurrency: N appends to one
 * subject, all expecting the same last sequence, sent back to back. Exactly one may be stored;
 * every other one must be rejected as 'fenced'.
 *
 * Checked on the private 3-node cluster (R3 stream) and on a single server (R1 stream).
 * nats-server 2.9.10 alone checks an expected sequence > 0 on a clustered stream only before
 * proposing, against the leader's store, which does not yet hold the proposals in flight (fixed
 * in 2.9.21 by nats-io/nats-server 244dda809); the raw header is logged for the record, and
 * LeanPublisher's fence message id (`dn-after:<seq>`) must make the append exclusive anyway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
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

/**
 * Rounds of `n` concurrent fenced appends; returns how many were stored per round (counted in
 * the stream, not from the answers). `raw`: only the header, without LeanPublisher.
 */
async function racingAppends(nc: NatsConnection, replicas: number, rounds: number, n: number, raw = false): Promise<number[]> {
  const jsm = await jetstreamManager(nc);
  const name = `FENCE_R${replicas}${raw ? '_RAW' : ''}`;
  const subject = `${name.toLowerCase()}.x`;
  await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`], num_replicas: replicas, storage: 'file' as any });
  const pub = new LeanPublisher(nc);
  const append = (data: string, expected: number) => {
    if (!raw) return pub.publish(subject, new TextEncoder().encode(data), { expectedLastSubjectSequence: expected });
    const h = headers();
    h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
    return nc.request(subject, new TextEncoder().encode(data), { headers: h, timeout: 10_000 });
  };
  await append('0', 0);
  const stored: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const before = (await jsm.streams.info(name)).state.messages;
    const last = (await jsm.streams.getMessage(name, { last_by_subj: subject }))!.seq;
    await Promise.allSettled(Array.from({ length: n }, (_, i) => append(`${r}.${i}`, last)));
    stored.push((await jsm.streams.info(name)).state.messages - before);
  }
  pub.close();
  return stored;
}

describe('Nats-Expected-Last-Subject-Sequence under concurrency', () => {
  it('single server (R1): exactly one of the racing appends is stored', async () => {
    const nc = await connect({ servers: single.url });
    const stored = await racingAppends(nc, 1, 20, 8);
    await nc.close();
    expect(
      stored.every((s) => s === 1),
      JSON.stringify(stored),
    ).toBe(true);
  }, 60_000);

  it('3-node cluster (R3): exactly one of the racing appends is stored', async () => {
    const nc = await connect({ servers: cluster.urls });
    const rawStored = await racingAppends(nc, 3, 20, 8, true);
    const stored = await racingAppends(nc, 3, 20, 8);
    await nc.close();
    console.log(`R3, stored per round of 8 racing appends on one base: header alone ${JSON.stringify(rawStored)}; LeanPublisher ${JSON.stringify(stored)}`);
    expect(
      stored.every((s) => s === 1),
      JSON.stringify(stored),
    ).toBe(true);
  }, 60_000);
});
