/**
 * DurableClient on the in-memory fabric: no server, a virtual clock. What a worker would write
 * (entity events, status records, catalog entries, call replies) is written here directly through
 * the fabric in the engine's formats, so the client is checked on its own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableClient } from '../../../src/client/client.js';
import { decodeJson, encodeJson } from '../../../src/core/codec.js';
import { EntityId } from '../../../src/core/entity-id.js';
import { DurableError } from '../../../src/core/errors.js';
import { entityActorToken, entityPartition, eventSubject, hubNames, instanceInboxSubject, statusKey } from '../../../src/core/topology.js';
import type { CallOutcome, EntityMessage } from '../../../src/entity/messages.js';
import type { CoreMessage } from '../../../src/store/fabric.js';
import { MemoryStore, VirtualClock } from '../../../src/testing/index.js';
import { catalogKey, type CatalogEntry } from '../../../src/worker/catalog.js';
import type { EntityEvent } from '../../../src/worker/entity-host.js';
import type { OrchestrationStatus } from '../../../src/client/status.js';

const HUB = 'memclient';
const PARTITIONS = 4;
const names = hubNames(HUB);
const T0 = Date.parse('2030-01-01T00:00:00Z');

let clock: VirtualClock;
let store: MemoryStore;
let client: DurableClient;

const counter = (key: string) => new EntityId('counter', key);
const evSubject = (id: EntityId) => eventSubject(HUB, entityPartition(id, PARTITIONS), entityActorToken(id));

/** An entity version as the worker commits it: the full state, the operations applied. */
async function commitVersion(id: EntityId, state: number | undefined, ops: EntityEvent['o'] = []): Promise<number> {
  const ev: EntityEvent = { ex: state === undefined ? 0 : 1, ...(state === undefined ? {} : { st: state }), m: { in: 1 }, o: ops };
  return (await store.connect().publish(evSubject(id), encodeJson(ev))).seq;
}

async function putStatus(s: Partial<OrchestrationStatus> & { instanceId: string }, position = 1): Promise<void> {
  const full: OrchestrationStatus = {
    name: 'flow',
    runtimeStatus: 'Running',
    createdTime: new Date(clock.now()).toISOString(),
    lastUpdatedTime: new Date(clock.now()).toISOString(),
    ...s,
  };
  await client.hub.kv.status.put(statusKey(s.instanceId), encodeJson({ ...full, _v: position }));
}

/** Everything published to the hub's inbox from now on. */
async function inbox(): Promise<CoreMessage[]> {
  const got: CoreMessage[] = [];
  await store.connect().subscribe(`${HUB}.in.>`, (m) => got.push(m));
  return got;
}

const flush = () => new Promise((r) => setImmediate(r));

beforeEach(async () => {
  clock = new VirtualClock(T0);
  store = new MemoryStore({ clock });
  client = await DurableClient.connect({ fabric: store.connect(), hub: HUB, partitions: PARTITIONS });
  const entry: CatalogEntry = { kind: 'entity', name: 'counter', operations: { add: { input: { type: 'number' } }, get: { input: null } }, updatedAt: new Date(T0).toISOString() };
  await client.hub.kv.catalog.put(catalogKey('entity', 'counter'), encodeJson(entry));
  await client.hub.kv.catalog.put(catalogKey('orchestration', 'flow'), encodeJson({ kind: 'orchestration', name: 'flow', updatedAt: new Date(T0).toISOString() }));
});

afterEach(async () => {
  await client.close();
});

describe('DurableClient on a MemoryFabric', () => {
  it('opens the hub on the given fabric and leaves that fabric open on close', async () => {
    const fabric = store.connect();
    const other = await DurableClient.connect({ fabric, hub: HUB });
    expect(other.hub.config.partitions).toBe(PARTITIONS); // the first creator's count
    expect(other.isConnected()).toBe(true);
    await other.close();
    expect(fabric.isConnected()).toBe(true);
  });

  it('signalEntity publishes the operation to the entity inbox; validation first', async () => {
    const got = await inbox();
    await client.signalEntity(counter('a'), 'add', 5);
    await client.signalEntity('@counter@a', 'add', 1, { idempotencyKey: 'k1' });
    await client.signalEntity('@counter@a', 'add', 1, { idempotencyKey: 'k1' }); // deduplicated
    await flush();
    expect(got.map((m) => [m.subject, decodeJson<EntityMessage>(m.data)])).toEqual([
      [client.signalSubject(counter('a')), { op: 'add', input: 5 }],
      [client.signalSubject(counter('a')), { op: 'add', input: 1 }],
    ]);
    await expect(client.signalEntity(counter('a'), 'add', 'x')).rejects.toMatchObject({ code: 'validation' });
    await expect(client.signalEntity(new EntityId('nope', 'a'), 'add', 1)).rejects.toMatchObject({ code: 'validation' });
  });

  it('signals reach the inbox in the order they were issued: batched, keyed, and behind one waiting for a catalog read', async () => {
    const got = await inbox();
    // The first signal's catalog check has to read the bucket (held here until the others were
    // issued); the ones after it find the entity cached and would be batched at once.
    const catalog = (client as unknown as { catalog: { validateOperation: (...a: unknown[]) => Promise<void> | undefined } }).catalog;
    const check = catalog.validateOperation.bind(catalog);
    let release!: () => void;
    const read = new Promise<void>((r) => (release = r));
    catalog.validateOperation = (...a: unknown[]) => {
      catalog.validateOperation = check;
      return read.then(() => check(...a));
    };
    const id = counter('ordered');
    const sent: Array<Promise<void>> = [];
    for (let i = 1; i <= 60; i++) sent.push(client.signalEntity(id, 'add', i, i % 20 === 0 ? { idempotencyKey: `key-${i}` } : {}));
    const call = client.callRaw(id, { op: 'add', k: 'c', input: 0 }, 60_000);
    call.catch(() => undefined); // nobody answers here: only the order of publishes is checked
    await flush();
    release();
    await Promise.all(sent);
    await flush();
    const inputs = got
      .filter((m) => m.subject.includes('.in.'))
      .flatMap((m) => {
        const body = decodeJson<{ b?: Array<{ input: number }>; m?: Array<[string, Array<{ input: number }>]>; input?: number }>(m.data);
        if (body.b) return body.b.map((x) => x.input);
        if (body.m) return body.m.flatMap(([, xs]) => xs.map((x) => x.input));
        return [body.input];
      });
    expect(inputs).toEqual([...Array.from({ length: 60 }, (_, i) => i + 1), 0]);
  });

  it('batches signals issued together, and sends one message per signal with batchSignals: false', async () => {
    const got = await inbox();
    await Promise.all(Array.from({ length: 10 }, (_, i) => client.signalEntity(counter('batched'), 'add', i)));
    await flush();
    expect(got.map((m) => decodeJson<{ b?: unknown[] }>(m.data).b?.length)).toEqual([10]);
    const plain = await DurableClient.connect({ fabric: store.connect(), hub: HUB, batchSignals: false });
    try {
      got.length = 0;
      await Promise.all(Array.from({ length: 10 }, (_, i) => plain.signalEntity(counter('plain'), 'add', i)));
      await flush();
      expect(got.map((m) => decodeJson<EntityMessage>(m.data))).toEqual(Array.from({ length: 10 }, (_, i) => ({ op: 'add', input: i })));
    } finally {
      await plain.close();
    }
  });

  it('readEntityState reads the last committed version', async () => {
    expect(await client.readEntityState(counter('b'))).toEqual({ exists: false });
    await commitVersion(counter('b'), 3);
    const v = await commitVersion(counter('b'), 7);
    expect(await client.readEntityState(counter('b'))).toEqual({ exists: true, state: 7, version: v });
    const gone = await commitVersion(counter('b'), undefined);
    expect(await client.readEntityState(counter('b'))).toEqual({ exists: false, version: gone });
  });

  it('reads entity history, versions and states at a time', async () => {
    const id = counter('h');
    const v1 = await commitVersion(id, 1, [['add', 1]]);
    await clock.advance(60_000);
    await commitVersion(counter('other'), 100);
    const v2 = await commitVersion(id, 3, [['add', 2]]);
    await clock.advance(60_000);
    const v3 = await commitVersion(id, 6, [['add', 3]]);

    const page = await client.entityHistory(id, { limit: 2 });
    expect(page.versions.map((v) => [v.version, v.state, v.operations])).toEqual([
      [v1, 1, [{ op: 'add', input: 1 }]],
      [v2, 3, [{ op: 'add', input: 2 }]],
    ]);
    expect(page.next).toBe(v3);
    expect(page.versions[0]!.time.getTime()).toBe(T0);
    const reverse = await client.entityHistory(id, { reverse: true });
    expect(reverse.versions.map((v) => v.version)).toEqual([v3, v2, v1]);

    expect(await client.readEntityState(id, { version: v2 })).toMatchObject({ version: v2, exists: true, state: 3 });
    await expect(client.readEntityState(id, { version: v2 - 1 })).rejects.toMatchObject({ code: 'not-found' });
    expect(await client.readEntityState(id, { at: new Date(T0 + 90_000) })).toMatchObject({ version: v2, state: 3 });
    expect(await client.readEntityState(id, { at: new Date(T0 + 10_000) })).toMatchObject({ version: v1, state: 1 });
    await expect(client.readEntityState(id, { at: new Date(T0 - 1) })).rejects.toMatchObject({ code: 'not-found' });
  });

  it('watchEntity yields the current version, then each new one', async () => {
    const id = counter('w');
    await commitVersion(id, 1);
    const ac = new AbortController();
    const seen: Array<number | undefined> = [];
    const done = (async () => {
      for await (const v of client.watchEntity<number>(id, { signal: ac.signal })) {
        seen.push(v.state);
        if (seen.length === 3) ac.abort();
      }
    })();
    await flush();
    await commitVersion(id, 2);
    await commitVersion(counter('x'), 50);
    await commitVersion(id, 3);
    await done;
    expect(seen).toEqual([1, 2, 3]);
  });

  it('callEntity sends a call with a reply subject and returns the outcome replied there', async () => {
    const served: EntityMessage[] = [];
    // A stand-in for the entity's worker: replies to every call it sees in the inbox.
    const worker = store.connect();
    await worker.subscribe(`${HUB}.in.>`, (m) => {
      const body = decodeJson<EntityMessage>(m.data);
      served.push(body);
      if (body.reply) worker.publishCore(body.reply, encodeJson({ ok: true, result: 42 } satisfies CallOutcome));
    });
    expect(await client.callEntity(counter('c'), 'get')).toBe(42);
    expect(served).toEqual([{ op: 'get', k: 'c', reply: expect.stringMatching(/^_INBOX\./) }]);
  });

  it('callEntity rejects with the operation error replied', async () => {
    const worker = store.connect();
    await worker.subscribe(`${HUB}.in.>`, (m) => {
      const body = decodeJson<EntityMessage>(m.data);
      if (body.reply) worker.publishCore(body.reply, encodeJson({ ok: false, error: { message: 'boom', errorType: 'Error' } } satisfies CallOutcome));
    });
    await expect(client.callEntity(counter('c'), 'get')).rejects.toMatchObject({ code: 'operation-failed', message: 'boom' });
  });

  it('a call with no answer times out on the virtual clock when it is advanced', async () => {
    let settled: unknown;
    const call = client.callEntity(counter('t'), 'get', undefined, { timeoutMs: 5_000 }).then(
      () => (settled = 'resolved'),
      (e: unknown) => (settled = e),
    );
    await flush();
    await clock.advance(4_999);
    expect(settled).toBeUndefined();
    await clock.advance(1);
    await call;
    expect(settled).toBeInstanceOf(DurableError);
    expect((settled as DurableError).code).toBe('timeout');
  });

  it('getStatus and listInstances read the status records', async () => {
    await putStatus({ instanceId: 'i1' });
    await putStatus({ instanceId: 'i2', runtimeStatus: 'Completed', output: 'ok' });
    await putStatus({ instanceId: 'i3', name: 'other' });
    await putStatus({ instanceId: 'i1', runtimeStatus: 'Failed' }, 2); // rewritten: its record moves to the end
    expect(await client.getStatus('i2')).toMatchObject({ instanceId: 'i2', runtimeStatus: 'Completed', output: 'ok' });
    expect(await client.getStatus('none')).toBeUndefined();

    const all = await client.listInstances();
    expect(all.instances.map((s) => [s.instanceId, s.runtimeStatus])).toEqual([
      ['i2', 'Completed'],
      ['i3', 'Running'],
      ['i1', 'Failed'],
    ]);
    expect(all.continuationToken).toBeUndefined();
    const first = await client.listInstances({ pageSize: 2 });
    expect(first.instances.map((s) => s.instanceId)).toEqual(['i2', 'i3']);
    const second = await client.listInstances({ pageSize: 2, continuationToken: first.continuationToken! });
    expect(second.instances.map((s) => s.instanceId)).toEqual(['i1']);
    expect((await client.listInstances({ runtimeStatus: ['Running'] })).instances.map((s) => s.instanceId)).toEqual(['i3']);
    expect((await client.listInstances({ namePrefix: 'oth' })).instances.map((s) => s.instanceId)).toEqual(['i3']);

    await client.purge('i2');
    expect(await client.getStatus('i2')).toBeUndefined();
    expect((await client.listInstances()).instances.map((s) => s.instanceId)).toEqual(['i3', 'i1']);
  });

  it('raiseEvent and terminate publish to the instance inbox; a finished instance is refused', async () => {
    await putStatus({ instanceId: 'r1' });
    await putStatus({ instanceId: 'done', runtimeStatus: 'Completed' });
    const got = await inbox();
    await client.raiseEvent('r1', 'Approval', { by: 'me' });
    await client.terminate('r1', 'enough');
    await flush();
    const subject = instanceInboxSubject(HUB, 'r1', PARTITIONS);
    expect(got.map((m) => [m.subject, decodeJson(m.data)])).toEqual([
      [subject, { eventId: -1, timestamp: new Date(T0).toISOString(), type: 'EventRaised', name: 'approval', data: { by: 'me' } }],
      [subject, { eventId: -1, timestamp: new Date(T0).toISOString(), type: 'ExecutionTerminated', reason: 'enough' }],
    ]);
    await expect(client.raiseEvent('done', 'x')).rejects.toMatchObject({ code: 'not-found' });
    await expect(client.terminate('nobody')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('startNew publishes the start and a Pending status; waitForCompletion is pushed the terminal status', async () => {
    const got = await inbox();
    const id = await client.startNew('flow', { instanceId: 'w1', input: 3 });
    expect(id).toBe('w1');
    await flush();
    expect(got).toHaveLength(1);
    expect(decodeJson(got[0]!.data)).toMatchObject({ type: 'ExecutionStarted', name: 'flow', instanceId: 'w1', input: 3 });
    expect(await client.getStatus('w1')).toMatchObject({ runtimeStatus: 'Pending', input: 3 });
    await expect(client.startNew('flow', { instanceId: 'w1' })).rejects.toMatchObject({ code: 'instance-exists' });

    const wait = client.waitForCompletion('w1', { timeoutMs: 10_000 });
    await flush();
    await putStatus({ instanceId: 'w1', runtimeStatus: 'Running' }, 2);
    await putStatus({ instanceId: 'w1', runtimeStatus: 'Completed', output: 9 }, 3);
    expect(await wait).toMatchObject({ runtimeStatus: 'Completed', output: 9 });
  });

  it('waitForCompletion times out on the virtual clock', async () => {
    await putStatus({ instanceId: 'slow' });
    let settled: unknown;
    const wait = client.waitForCompletion('slow', { timeoutMs: 30_000 }).then(
      () => (settled = 'done'),
      (e: unknown) => (settled = e),
    );
    await flush();
    await clock.advance(29_000);
    expect(settled).toBeUndefined();
    await clock.advance(1_000);
    await wait;
    expect((settled as DurableError).code).toBe('timeout');
  });

  it('listEntities lists the entity index', async () => {
    await client.hub.kv.entityIndex.put('counter.a', encodeJson({}));
    await client.hub.kv.entityIndex.put('counter.b', encodeJson({}));
    await commitVersion(counter('a'), 1);
    const { entities } = await client.listEntities({ includeState: true });
    expect(entities).toEqual([{ id: '@counter@a', state: 1 }, { id: '@counter@b' }]);
  });

  it('readHistory of an instance with no events is empty', async () => {
    expect(await client.readHistory('nobody')).toEqual([]);
    expect((await store.connect().streamInfo(names.eventStream)).lastSeq).toBe(0);
  });
});
