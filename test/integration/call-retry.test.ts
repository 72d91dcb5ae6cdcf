/**
 * callEntity when its publish loses the PubAck (a NATS node lost mid-request). Injected: the
 * client's first publish of the call is stored but its PubAck never arrives. Checked: the call
 * still resolves with its result, and the operation was applied once (the client re-sent it with
 * the same call id and reply subject; the server kept one copy). It used to reject with a timeout,
 * and the caller's retry applied the operation a second time.
 */
import { natsOf } from '../../src/store/nats-hub.js';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DurableClient, entity, EntityId, Worker } from '../../src/index.js';
import { FaultyPublisher } from '../helpers/faulty-publisher.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

const account = entity('account', {
  state: () => ({ balance: 0 }),
  operations: {
    deposit: (s, n: number) => {
      s.balance += n;
      return s.balance;
    },
  },
});

it('applies a call once and returns its result when the first PubAck is lost', async () => {
  const hub = 'call-retry';
  const worker = await Worker.start({ servers: server.url, hub, entities: [account], logger: pino({ level: 'silent' }) });
  const client = await DurableClient.connect({ servers: server.url, hub });
  const faulty = new FaultyPublisher(natsOf(client.hub).nc, 2_000);
  // The client publishes through its fabric (NatsFabric.publish is a LeanPublisher): the faulty
  // publisher takes its place on this client's fabric.
  client.hub.fabric.publish = (subject, data, options) => faulty.publish(subject, data, options);
  try {
    const id = new EntityId('account', 'a1');
    const subject = client.signalSubject(id);
    faulty.faults.push({ match: (s) => s === subject, mode: 'lost-ack', remaining: 1 });
    expect(await client.callEntity(id, 'deposit', 5, { timeoutMs: 10_000 })).toBe(5);
    expect(faulty.faults[0]!.remaining).toBe(0); // the fault did happen
    expect(await client.callEntity(id, 'deposit', 1)).toBe(6);
    expect((await client.readEntityState<{ balance: number }>(id)).state).toEqual({ balance: 6 });
  } finally {
    faulty.close();
    await client.close();
    await worker.stop();
  }
});
