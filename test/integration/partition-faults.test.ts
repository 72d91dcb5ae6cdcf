/**
 * The partition pipeline under injected store faults (in-process, deterministic): a real
 * nats-server and hub, a real EntityHost, and the hub's fabric with a publish that fails chosen
 * publishes.
 *
 * 1. A batch where one actor's append fails (no PubAck) and another's commits: the committed
 *    actor's caller gets its reply at once, the failed one is applied exactly once on the retry.
 * 2. An append that lands but whose PubAck is lost: applied once, and its effect (a signal to
 *    another entity) is published once the batch is retried.
 * 3. A forward that rejects while the batch is still preparing: no unhandled rejection, and the
 *    message reaches its home partition on the retry.
 */
import { natsOf } from '../../src/store/nats-hub.js';
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeJson, encodeJson } from '../../src/core/codec.js';
import { EntityId } from '../../src/core/entity-id.js';
import { entityActorToken, entityInboxSubject, entityPartition, eventSubject, inboxSubject } from '../../src/core/topology.js';
import { entity } from '../../src/entity/definition.js';
import type { EntityDefinition } from '../../src/entity/definition.js';
import type { Hub } from '../../src/store/hub.js';
import { openHub } from '../../src/store/nats-hub.js';
import { LeanPublisher, type LeanPublishOptions } from '../../src/store/lean-publisher.js';
import type { ActorHost } from '../../src/worker/actor-host.js';
import { EntityHost } from '../../src/worker/entity-host.js';
import { createWorkerMetrics } from '../../src/worker/metrics.js';
import { PartitionProcessor } from '../../src/worker/partition.js';
import { FaultyPublisher, withFaultyPublish } from '../helpers/faulty-publisher.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

const tally = entity('tally', {
  state: () => ({ value: 0 }),
  operations: {
    add: (s, n: number) => {
      s.value += n;
    },
    get: (s) => s.value,
    /** Adds, then passes the amount on to another tally. */
    relay: async (s, a: { n: number; to: string }, ctx) => {
      s.value += a.n;
      ctx.signalEntity(EntityId.parse(a.to), 'add', a.n);
    },
    /** A slow operation: the batch is still preparing when other publishes settle. */
    slowAdd: async (s, n: number) => {
      await new Promise((r) => setTimeout(r, 150));
      s.value += n;
    },
  },
});

let server: TestServer;
let nc: NatsConnection;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  process.on('unhandledRejection', onUnhandled);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await nc?.close();
  await server?.stop();
});

interface Rig {
  hub: Hub;
  faulty: FaultyPublisher;
  processor: PartitionProcessor;
  send: (id: EntityId, body: unknown) => Promise<void>;
  value: (id: EntityId) => Promise<number | undefined>;
  stop: () => Promise<void>;
}

/** A hub with `partitions` partitions and a processor for partition 0 (started by the test). */
async function rig(hubName: string, partitions: number): Promise<Rig> {
  const hub = await openHub(nc, { hub: hubName, partitions });
  const faulty = new FaultyPublisher(nc, 2_000);
  const plain = new LeanPublisher(nc);
  const defs = new Map<string, EntityDefinition>([[tally.name, tally as EntityDefinition]]);
  const noOrchestrations = { start: () => ({}), entityResponse: () => ({}), lockGranted: () => ({}) };
  const entities = new EntityHost(hub, defs, noOrchestrations, 100, hub.fabric.clock);
  const orchestrations: ActorHost = { prepare: () => Promise.reject(new Error('no orchestrations here')), invalidate: () => undefined };
  const processor = new PartitionProcessor(
    0,
    { in: 0, ev: 0 },
    {
      hub: { ...hub, fabric: withFaultyPublish(hub.fabric, faulty) },
      hosts: { e: entities, o: orchestrations },
      logger: pino({ level: 'silent' }),
      metrics: createWorkerMetrics({ worker: hubName, hub: hubName }),
      maxBatch: 1_000,
      leaseValid: () => true,
    },
  );
  return {
    hub,
    faulty,
    processor,
    send: async (id, body) => {
      await plain.publish(entityInboxSubject(hub.names.hub, id, partitions), encodeJson(body));
    },
    value: async (id) => {
      const last = await hub.fabric.readLast(hub.names.eventStream, eventSubject(hub.names.hub, entityPartition(id, partitions), entityActorToken(id)));
      return last ? decodeJson<{ st: { value: number } }>(last.data).st.value : undefined;
    },
    stop: async () => {
      await processor.stop(true);
      faulty.close();
      plain.close();
    },
  };
}

/** Subscribes to a fresh reply subject; resolves with the first reply and when it came. */
function awaitReply(): { subject: string; reply: Promise<{ at: number; outcome: { ok: boolean; result?: unknown } }> } {
  const subject = createInbox();
  const sub = nc.subscribe(subject, { max: 1 });
  const reply = (async () => {
    for await (const m of sub) return { at: Date.now(), outcome: decodeJson<{ ok: boolean; result?: unknown }>(m.data) };
    throw new Error('no reply');
  })();
  return { subject, reply };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing in ${ms} ms`)), ms))]);
}

const appendTo = (r: Rig, id: EntityId) => {
  const subject = eventSubject(r.hub.names.hub, 0, entityActorToken(id));
  return (s: string, o: LeanPublishOptions) => s === subject && o.expectedLastSubjectSequence !== undefined;
};

describe('partition pipeline under injected faults', () => {
  afterEach(() => expect(unhandled).toEqual([]));

  it('replies for committed actors at once when another actor of the batch fails, and applies the failed one once', async () => {
    const r = await rig('faults-partial', 1);
    const x = new EntityId('tally', 'x');
    const y = new EntityId('tally', 'y');
    // Three failures in a row: whatever batches the reader forms, x and y share a failed attempt.
    r.faulty.faults.push({ match: appendTo(r, x), mode: 'no-ack', remaining: 3 });
    const callX = awaitReply();
    const callY = awaitReply();
    await r.send(x, { op: 'add', input: 5 });
    await r.send(y, { op: 'add', input: 7 });
    await r.send(x, { op: 'get', k: 'c', reply: callX.subject });
    await r.send(y, { op: 'get', k: 'c', reply: callY.subject });
    const started = Date.now();
    await r.processor.start();
    const [rx, ry] = await Promise.all([withTimeout(callX.reply, 10_000, 'reply x'), withTimeout(callY.reply, 10_000, 'reply y')]);
    expect(ry.outcome).toEqual({ ok: true, result: 7 });
    expect(rx.outcome).toEqual({ ok: true, result: 5 });
    // y committed in an attempt where x failed: its caller did not wait for x's retries (backoff >= 200 ms).
    expect(rx.at - ry.at).toBeGreaterThanOrEqual(150);
    expect(ry.at - started).toBeLessThan(2_000);
    expect(await r.value(x)).toBe(5);
    expect(await r.value(y)).toBe(7);
    await r.stop();
  });

  it('applies an append whose PubAck was lost once, and publishes its effect', async () => {
    const r = await rig('faults-lost-ack', 1);
    const a = new EntityId('tally', 'a');
    const b = new EntityId('tally', 'b');
    r.faulty.faults.push({ match: appendTo(r, a), mode: 'lost-ack', remaining: 1 });
    await r.send(a, { op: 'relay', input: { n: 3, to: b.toString() } });
    await r.processor.start();
    const deadline = Date.now() + 10_000;
    while ((await r.value(b)) !== 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(await r.value(b)).toBe(3);
    // Once more through the same entities: nothing applied twice, nothing lost.
    const call = awaitReply();
    await r.send(a, { op: 'get', k: 'c', reply: call.subject });
    expect((await withTimeout(call.reply, 10_000, 'reply a')).outcome).toEqual({ ok: true, result: 3 });
    await new Promise((res) => setTimeout(res, 300));
    expect(await r.value(a)).toBe(3);
    expect(await r.value(b)).toBe(3);
    await r.stop();
  });

  it('parks the messages of an actor that keeps failing with a non-store error, and the partition goes on', async () => {
    const r = await rig('faults-poison', 1);
    const plain = new LeanPublisher(nc);
    // The rig's orchestration host throws a plain Error for every instance: a bug, not an outage.
    await plain.publish(inboxSubject(r.hub.names.hub, 0, 'o.broken'), encodeJson({ type: 'EventRaised', name: 'x' }));
    plain.close();
    const k = new EntityId('tally', 'after-poison');
    await r.send(k, { op: 'add', input: 4 });
    await r.processor.start();
    const deadline = Date.now() + 20_000;
    while ((await r.value(k)) !== 4 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    expect(await r.value(k)).toBe(4);
    const dlq = () =>
      natsOf(r.hub)
        .jsm.streams.getMessage(r.hub.names.deadLetterStream, { last_by_subj: `${r.hub.names.hub}.dlq.0` })
        .catch(() => null);
    let parked = await dlq();
    while (!parked && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      parked = await dlq();
    }
    if (!parked) throw new Error('the failing actor was never parked');
    // The partition went on: its checkpoint passed the parked message.
    await new Promise((res) => setTimeout(res, 300));
    expect(r.processor.checkpoint.in).toBeGreaterThanOrEqual(2);
    expect(parked.header.get('Dn-Subject')).toBe(inboxSubject(r.hub.names.hub, 0, 'o.broken'));
    expect(parked.header.get('Dn-Reason')).toMatch(/failed 5 times in a row: no orchestrations here/);
    await r.stop();
  }, 30_000);

  it('a forward that fails while the batch is still preparing is retried, never an unhandled rejection', async () => {
    const r = await rig('faults-forward', 2);
    // An entity whose home is partition 1, published (as a producer with another partition count would) to partition 0.
    let stray = new EntityId('tally', 'stray-0');
    for (let i = 1; entityPartition(stray, 2) !== 1; i++) stray = new EntityId('tally', `stray-${i}`);
    let local = new EntityId('tally', 'local-0');
    for (let i = 1; entityPartition(local, 2) !== 0; i++) local = new EntityId('tally', `local-${i}`);
    const home = inboxSubject(r.hub.names.hub, 1, entityActorToken(stray));
    r.faulty.faults.push({ match: (s) => s === home, mode: 'no-ack', remaining: 1 });
    // The reader starts a batch at its first message: that one goes alone, the next two together.
    await r.send(local, { op: 'add', input: 1 });
    const plain = new LeanPublisher(nc);
    await plain.publish(inboxSubject(r.hub.names.hub, 0, entityActorToken(stray)), encodeJson({ op: 'add', input: 1 }));
    plain.close();
    await r.send(local, { op: 'slowAdd', input: 2 });
    await r.processor.start();
    const deadline = Date.now() + 10_000;
    let forwarded: unknown = null;
    while (!forwarded && Date.now() < deadline) {
      forwarded = await natsOf(r.hub)
        .jsm.streams.getMessage(r.hub.names.inboxStream, { last_by_subj: home })
        .catch(() => null);
      if (!forwarded) await new Promise((res) => setTimeout(res, 50));
    }
    expect(forwarded).toBeTruthy();
    while ((await r.value(local)) !== 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(await r.value(local)).toBe(3);
    await new Promise((res) => setTimeout(res, 300)); // let any stray rejection surface
    await r.stop();
  });
});
