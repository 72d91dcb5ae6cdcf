/**
 * Storage: bytes written to the event stream per signal, and the bytes a hub holds (event, inbox
 * and status streams) after each round of a sustained load over 1,000 counters: with retention
 * (default 100 versions per entity) the total stops growing once every entity has reached it.
 */
import { natsOf } from '../src/store/nats-hub.js';
import { type DurableClient, EntityId } from '../src/index.js';
import { pipelined } from './stats.js';

export interface StorageFigures {
  bytesPerSignal: number;
  rounds: Array<{ signals: number; eventBytes: number; inboxBytes: number; hubBytes: number }>;
}

async function streamBytes(client: DurableClient, stream: string): Promise<{ bytes: number; lastSeq: number }> {
  const s = (await natsOf(client.hub).jsm.streams.info(stream)).state;
  return { bytes: s.bytes, lastSeq: s.last_seq };
}

export async function storageFigures(client: DurableClient, perRound: number, rounds: number): Promise<StorageFigures> {
  const n = client.hub.names;
  const hubStreams = [n.eventStream, n.inboxStream, `KV_${n.statusBucket}`, `KV_${n.entityIndexBucket}`, `KV_${n.timerBucket}`];
  const keys = 1_000;
  const out: StorageFigures = { bytesPerSignal: 0, rounds: [] };
  let sent = 0;
  for (let r = 0; r < rounds; r++) {
    const before = await streamBytes(client, n.eventStream);
    await pipelined(perRound, 1024, (i) => client.signalEntity(new EntityId('counter', `store-${i % keys}`), 'add', 1));
    sent += perRound;
    // Wait until the worker applied them (a call observes earlier signals of this client).
    await client.callEntity(new EntityId('counter', `store-${(perRound - 1) % keys}`), 'get', undefined, { timeoutMs: 120_000 });
    // Trims and inbox purges run in the background; give them a moment.
    await new Promise((res) => setTimeout(res, 2_500));
    const after = await streamBytes(client, n.eventStream);
    if (r === 0) out.bytesPerSignal = (after.bytes - before.bytes) / perRound;
    const sizes = await Promise.all(hubStreams.map((s) => streamBytes(client, s).then((x) => x.bytes)));
    out.rounds.push({ signals: sent, eventBytes: sizes[0]!, inboxBytes: sizes[1]!, hubBytes: sizes.reduce((a, b) => a + b, 0) });
  }
  return out;
}
