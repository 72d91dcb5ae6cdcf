import { natsOf } from '../../src/store/nats-hub.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { headers } from '@nats-io/transport-node';
import { DurableClient, DurableError, EntityId, Worker, signalSubject } from '../../src/index.js';
import { fnv1a32 } from '../../src/core/hash.js';
import { counter } from '../../entities/counter.js';
import { aggregator } from '../../entities/aggregator.js';
import { tally } from '../../entities/tally.js';
import { entity } from '../../src/index.js';

const blob = entity('blob', {
  state: () => ({ items: [] as string[] }),
  operations: {
    push: (s, x: string) => {
      s.items.push(x);
    },
    count: (s) => s.items.length,
  },
});
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

let server: TestServer;
let worker: Worker;
let client: DurableClient;
const hub = 'entities-test';

beforeAll(async () => {
  server = await startNatsServer();
  worker = await Worker.start({ servers: server.url, hub, entities: [counter, aggregator, blob, tally], logger: pino({ level: 'warn' }), leaseMs: 2000 });
  client = await DurableClient.connect({ servers: server.url, hub });
});

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await server?.stop();
});

describe('entities', () => {
  it('signals then calls, observing the signals', async () => {
    const id = new EntityId('counter', 'user-42');
    for (let i = 1; i <= 10; i++) await client.signalEntity(id, 'add', i);
    expect(await client.callEntity(id, 'get')).toBe(55);
    expect(await client.readEntityState(id)).toMatchObject({ exists: true, state: { value: 55 } });
  });

  it('rejects bad input with validation before writing', async () => {
    const id = new EntityId('counter', 'bad');
    await expect(client.signalEntity(id, 'add', 'five')).rejects.toMatchObject({ code: 'validation' });
    await expect(client.signalEntity(id, 'nope')).rejects.toMatchObject({ code: 'validation' });
    await expect(client.signalEntity(new EntityId('nothing', 'x'), 'add', 1)).rejects.toMatchObject({ code: 'validation' });
    // An input the schema accepts but too large for one message: refused before anything is written.
    const big = new EntityId('blob', 'oversized-input');
    await expect(client.signalEntity(big, 'push', 'x'.repeat(2_000_000))).rejects.toMatchObject({ code: 'validation', message: expect.stringContaining('exceeds the limit') });
    expect(await client.readEntityState(big)).toEqual({ exists: false });
    expect(() => EntityId.parse('counter@x')).toThrow(DurableError);
    expect(() => EntityId.parse('@counter@')).toThrow(/non-empty/);
    expect(await client.readEntityState(id)).toEqual({ exists: false });
  });

  it('keeps keys with dots, spaces, slashes, @ and unicode apart', async () => {
    const keys = ['a.b', 'a b', 'a/b', 'a@b', 'ключ-🙂', 'a=2Eb', '*', '>'];
    for (const [i, key] of keys.entries()) await client.signalEntity(new EntityId('counter', key), 'add', i + 1);
    for (const [i, key] of keys.entries()) expect(await client.callEntity(new EntityId('counter', key), 'get')).toBe(i + 1);
    const list = await client.listEntities({ name: 'counter', pageSize: 1000 });
    for (const key of keys) expect(list.entities.map((e) => e.id)).toContain(`@counter@${key}`);
  });

  it('applies a duplicate idempotency key once', async () => {
    const id = new EntityId('counter', 'idem');
    for (let i = 0; i < 5; i++) await client.signalEntity(id, 'add', 7, { idempotencyKey: 'same-signal' });
    await client.signalEntity(id, 'add', 1, { idempotencyKey: 'other' });
    expect(await client.callEntity(id, 'get')).toBe(8);
  });

  it('keeps per-sender FIFO over 1,000 signals', async () => {
    const id = new EntityId('aggregator', 'fifo');
    await Promise.all(Array.from({ length: 1000 }, (_, i) => client.signalEntity(id, 'record', { value: i })));
    const s = await client.callEntity<any>(id, 'summary');
    expect(s.count).toBe(1000);
    expect(s.last).toEqual(Array.from({ length: 10 }, (_, i) => 990 + i));
  });

  it('raw NATS producers: documented subject and hash, dedupe header, misrouted and malformed messages', async () => {
    const nc = natsOf(client.hub).nc;
    const id = new EntityId('counter', 'raw.producer 1');
    // The documented hash and token encoding give the same subject as signalSubject().
    const p = fnv1a32('@counter@raw.producer 1') % 16;
    expect(signalSubject(hub, id)).toBe(`${hub}.in.${p}.e.counter.raw=2Eproducer=201`);
    const h = headers();
    h.set('Nats-Msg-Id', 'evt-1');
    const ack1 = JSON.parse((await nc.request(signalSubject(hub, id), JSON.stringify({ op: 'add', input: 5 }), { headers: h, timeout: 5000 })).string());
    const ack2 = JSON.parse((await nc.request(signalSubject(hub, id), JSON.stringify({ op: 'add', input: 5 }), { headers: h, timeout: 5000 })).string());
    expect(ack1.duplicate).toBeUndefined();
    expect(ack2.duplicate).toBe(true);
    // Published with a wrong partition count: forwarded home, applied once.
    await nc.request(signalSubject(hub, id, 7), JSON.stringify({ op: 'add', input: 1 }), { timeout: 5000 });
    // Malformed and unknown-operation messages are parked, and the partition goes on.
    await nc.request(signalSubject(hub, id), 'not json', { timeout: 5000 });
    await nc.request(signalSubject(hub, id), JSON.stringify({ op: 'explode' }), { timeout: 5000 });
    await nc.request(signalSubject(hub, id), JSON.stringify({ op: 'add', input: 'x' }), { timeout: 5000 });
    expect(await client.callEntity(id, 'get')).toBe(6);
    const reasons: string[] = [];
    await client.hub.fabric.scan(client.hub.names.deadLetterStream, `${hub}.dlq.>`, 1, (m) => {
      reasons.push(m.headers?.get('Dn-Reason') ?? '');
    });
    expect(reasons).toEqual(
      expect.arrayContaining(['body is not JSON', "entity 'counter' has no operation 'explode'", expect.stringContaining("invalid input for 'counter.add'")]),
    );
  });

  it('refuses operations that would grow the state past one message, keeping the state', async () => {
    const id = new EntityId('blob', 'big');
    const chunk = 'x'.repeat(400_000);
    await client.callEntity(id, 'push', chunk);
    await client.callEntity(id, 'push', chunk);
    await expect(client.callEntity(id, 'push', chunk)).rejects.toMatchObject({ code: 'validation', message: expect.stringContaining('over the') });
    expect(await client.callEntity(id, 'count')).toBe(2);
  });
});
