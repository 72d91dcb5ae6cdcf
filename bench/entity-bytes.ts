/**
 * Bytes written to the event stream per signal, with the operations recorded in each version
 * (`o`) and without them (the same events with `o` removed: "before"). Run: npx tsx bench/entity-bytes.ts
 * Two shapes: a hot entity (signals pipelined, many operations per version) and one operation
 * per version (each signal awaited before the next, i.e. the worst case for the recording).
 */
import { natsOf } from '../src/store/nats-hub.js';
import { pino } from 'pino';
import { DurableClient, Worker } from '../src/index.js';
import { counter } from '../entities/counter.js';
import { decodeJson, encodeJson } from '../src/core/codec.js';
import { startNatsServer } from '../test/helpers/nats-server.js';

const server = await startNatsServer();
const hub = 'bytes';
const worker = await Worker.start({ servers: server.url, hub, entities: [counter], logger: pino({ level: 'warn' }) });
const client = await DurableClient.connect({ servers: server.url, hub });
const stream = client.hub.names.eventStream;

async function measure(label: string, signals: number, send: () => Promise<void>, key: string, total = signals): Promise<void> {
  const before = (await natsOf(client.hub).jsm.streams.info(stream)).state;
  await send();
  for (let i = 0; i < 200 && (await client.callEntity<number>(`@counter@${key}`, 'get')) < total; i++) await new Promise((r) => setTimeout(r, 50));
  const after = (await natsOf(client.hub).jsm.streams.info(stream)).state;
  let recorded = 0;
  let events = 0;
  await client.hub.fabric.scan(
    stream,
    `${hub}.ev.>`,
    before.last_seq + 1,
    (m) => {
      const ev = decodeJson<Record<string, unknown>>(m.data);
      if (!m.subject.endsWith(`.${key}`) || ev.o === undefined) return;
      events++;
      const without = { ...ev };
      delete without.o;
      recorded += m.data.length - encodeJson(without).length;
    },
    { untilSeq: after.last_seq },
  );
  // Includes the few versions written by the polling `get` calls above (a call is an operation too).
  const bytes = after.bytes - before.bytes;
  console.log(
    `${label}: ${signals} signals in ${events} versions; stream bytes/signal after ${(bytes / signals).toFixed(1)}, before ${((bytes - recorded) / signals).toFixed(1)} (+${(recorded / signals).toFixed(1)} for the operations)`,
  );
}

const N = 20_000;
await measure(
  'hot entity, pipelined',
  N,
  async () => {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      pending.push(client.signalEntity('@counter@hot', 'add', 1));
      if (pending.length >= 500) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  },
  'hot',
);
await measure(
  'hot entity, inputs alternating 1 and 2 (nothing to merge)',
  N,
  async () => {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      pending.push(client.signalEntity('@counter@alt', 'add', 1 + (i % 2)));
      if (pending.length >= 500) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  },
  'alt',
  N * 1.5,
);
const M = 2_000;
await measure(
  'one operation per version',
  M,
  async () => {
    for (let i = 0; i < M; i++) await client.callEntity('@counter@seq', 'add', 1);
  },
  'seq',
);

await client.close();
await worker.stop();
await server.stop();
