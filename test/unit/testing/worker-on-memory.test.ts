/**
 * The worker on the in-memory fabric: no NATS server anywhere (NATS_URL points at a closed port
 * and no socket is ever opened), driven by publishing the wire messages a client would
 * (docs/protocol.md) straight onto the fabric, and checked through the fabric (status bucket,
 * event stream). Also the activity runner and start router alone on a virtual clock: a claimed
 * activity keeps its claim however far time jumps, because its heartbeats run on the same clock
 * as the work queue's ack wait.
 */
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeStatusRecord } from '../../../src/client/status.js';
import { decodeJson, encodeJson } from '../../../src/core/codec.js';
import { EntityId } from '../../../src/core/entity-id.js';
import {
  activitySubject,
  entityActorToken,
  entityInboxSubject,
  entityPartition,
  eventSubject,
  inboxSubject,
  instanceInboxSubject,
  startSubject,
  statusKey,
} from '../../../src/core/topology.js';
import { entity } from '../../../src/entity/definition.js';
import { activity, orchestration } from '../../../src/orchestration/definition.js';
import { activityWorkItem, instanceMessages } from '../../../src/orchestration/messages.js';
import type { Fabric, StoredMessage } from '../../../src/store/fabric.js';
import { openHubOn, type Hub } from '../../../src/store/hub.js';
import { MemoryFabric, MemoryStore, VirtualClock } from '../../../src/testing/index.js';
import { ActivityRunner } from '../../../src/worker/activity-runner.js';
import { createWorkerMetrics } from '../../../src/worker/metrics.js';
import { StartRouter } from '../../../src/worker/start-router.js';
import { Worker } from '../../../src/worker/worker.js';

const logger = pino({ level: 'silent' });
const DAY = 24 * 3_600_000;

/** Every socket connect attempt of this process (there must be none). */
const connects = vi.spyOn(net.Socket.prototype, 'connect');
const savedUrl = process.env.NATS_URL;

beforeAll(async () => {
  // A port nothing listens on: a worker that tried to connect would fail (or hang) here.
  const closed = await new Promise<number>((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
  process.env.NATS_URL = `nats://127.0.0.1:${closed}`;
  connects.mockClear();
});

afterAll(() => {
  if (savedUrl === undefined) delete process.env.NATS_URL;
  else process.env.NATS_URL = savedUrl;
});

afterEach(() => {
  expect(connects).not.toHaveBeenCalled();
});

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function statusOf(hub: Hub, instanceId: string) {
  const e = await hub.kv.status.get(statusKey(instanceId));
  return e ? decodeStatusRecord(e.value) : undefined;
}

async function all(fabric: Fabric, stream: string, filter: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  await fabric.scan(stream, filter, 1, (m) => void out.push(m));
  return out;
}

const counter = entity('counter', {
  state: () => ({ value: 0 }),
  operations: {
    add: (s, n: number) => {
      s.value += n;
    },
  },
});

const double = activity('double', async (n: number) => n * 2);
const greet = activity('greet', async (name: string) => `hello ${name}`);

/** Two activities, a durable timer, a signal to an entity. */
const flow = orchestration('flow', function* (ctx, input: { n: number; name: string }) {
  const doubled: number = yield ctx.callActivity('double', input.n);
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 300));
  const greeting: string = yield ctx.callActivity('greet', input.name);
  ctx.signalEntity(`@counter@${input.name}`, 'add', doubled);
  return { doubled, greeting };
});

describe('Worker on a MemoryFabric (no NATS server)', () => {
  it('runs entities, orchestrations, activities and timers, started by raw messages on the fabric', async () => {
    const fabric = new MemoryFabric();
    const worker = await Worker.start({
      fabric,
      hub: 'mem',
      partitions: 4,
      entities: [counter],
      orchestrations: [flow],
      activities: [double, greet],
      logger,
      startupTimeoutMs: 5_000,
    });
    try {
      const { hub } = worker;
      expect(hub.fabric).toBe(fabric);
      expect(worker.connected).toBe(true);
      const partitions = hub.config.partitions;

      // An entity signal, as a raw producer sends it.
      const id = new EntityId('counter', 'ann');
      await fabric.publish(entityInboxSubject('mem', id, partitions), encodeJson({ op: 'add', input: 5 }), { msgId: 'sig-1' });

      // A start on the instance's inbox (as the client writes it) and a raw start (routed).
      await fabric.publish(
        instanceInboxSubject('mem', 'i-direct', partitions),
        encodeJson(instanceMessages.started({ name: 'flow', instanceId: 'i-direct', mode: 'replaceTerminal', input: { n: 21, name: 'ann' } })),
        { msgId: 'start:i-direct' },
      );
      await fabric.publish(startSubject('mem', 'flow'), encodeJson({ instanceId: 'i-routed', input: { n: 2, name: 'bob' } }));

      for (const [instanceId, output] of [
        ['i-direct', { doubled: 42, greeting: 'hello ann' }],
        ['i-routed', { doubled: 4, greeting: 'hello bob' }],
      ] as const) {
        const done = await until(`${instanceId} to complete`, async () => {
          const s = await statusOf(hub, instanceId);
          return s?.runtimeStatus === 'Completed' || s?.runtimeStatus === 'Failed' ? s : undefined;
        });
        expect(done.runtimeStatus).toBe('Completed');
        expect(done.output).toEqual(output);
      }

      // History through the fabric: both activities and the timer are in it.
      const events = await all(fabric, hub.names.eventStream, 'mem.ev.*.o.>');
      const types = events.flatMap((m) => decodeJson<{ h: Array<{ type: string }> }>(m.data).h.map((e) => e.type));
      expect(types.filter((t) => t === 'TaskCompleted')).toHaveLength(4);
      expect(types.filter((t) => t === 'TimerFired')).toHaveLength(2);

      // The entity got the signal and the orchestration's: 5 + 42.
      const subject = eventSubject('mem', entityPartition(id, partitions), entityActorToken(id));
      const state = await until('the counter at 47', async () => {
        const last = await fabric.readLast(hub.names.eventStream, subject);
        const st = last ? decodeJson<{ st?: { value: number } }>(last.data).st : undefined;
        return st?.value === 47 ? st : undefined;
      });
      expect(state).toEqual({ value: 47 });
      // Every activity item was acked: the work-queue stream is empty.
      expect((await fabric.streamInfo(hub.names.activityStream)).messages).toBe(0);
    } finally {
      await worker.stop();
    }
    // The fabric was given: the worker leaves it open.
    expect(fabric.isConnected()).toBe(true);
    await fabric.close();
  });
});

describe('partition batches on a MemoryFabric', () => {
  it('splits a partition batch per entity, forwards a share of another partition, parks only what cannot run', async () => {
    const fabric = new MemoryFabric();
    const worker = await Worker.start({ fabric, hub: 'pb', partitions: 4, entities: [counter], logger, startupTimeoutMs: 5_000 });
    try {
      const { hub } = worker;
      const ids = Array.from({ length: 40 }, (_, i) => new EntityId('counter', `e${i}`));
      const here = ids.filter((id) => entityPartition(id, 4) === 0).slice(0, 2);
      const elsewhere = ids.find((id) => entityPartition(id, 4) !== 0)!;
      const batch = {
        m: [
          [entityActorToken(here[0]!), [{ op: 'add', input: 1 }, { op: 'nope' }, { op: 'add', input: 2 }]],
          [entityActorToken(here[1]!), [{ op: 'add', input: 10 }]],
          [
            entityActorToken(elsewhere),
            [
              { op: 'add', input: 100 },
              { op: 'add', input: 200 },
            ],
          ],
          ['x.not-an-entity', [{ op: 'add', input: 5 }]],
        ],
      };
      await fabric.publish(inboxSubject('pb', 0, 'b'), encodeJson(batch));
      const stateOf = async (id: EntityId) => {
        const last = await fabric.readLast(hub.names.eventStream, eventSubject('pb', entityPartition(id, 4), entityActorToken(id)));
        return last ? decodeJson<{ st?: { value: number } }>(last.data).st?.value : undefined;
      };
      await until('every share applied', async () =>
        (await stateOf(elsewhere)) === 300 && (await stateOf(here[0]!)) === 3 && (await stateOf(here[1]!)) === 10 ? true : undefined,
      );
      // Parked: the malformed share and the one signal that cannot run, each on its own.
      const parked = await until('two dead letters', async () => {
        const all_ = await all(fabric, hub.names.deadLetterStream, 'pb.dlq.>');
        return all_.length >= 2 ? all_ : undefined;
      });
      expect(parked.map((m) => decodeJson(m.data))).toEqual(expect.arrayContaining([{ op: 'nope' }, { b: [{ op: 'add', input: 5 }] }]));
      expect(parked).toHaveLength(2);
    } finally {
      await worker.stop();
      await fabric.close();
    }
  });
});

describe('local activity dispatch on a MemoryFabric', () => {
  it('activities that finish at once are recorded with their scheduling: a chain of three fast steps is one event; a slow one gets its own', async () => {
    const fabric = new MemoryFabric();
    const fast = activity('fastStep', async (n: number) => n + 1);
    const slow = activity('slowStep', async (n: number) => {
      await new Promise((r) => setTimeout(r, 30));
      return n * 100;
    });
    const steps = orchestration('threeSteps', function* (ctx, withSlow: boolean) {
      let n = 0;
      for (let i = 0; i < 3; i++) n = (yield ctx.callActivity('fastStep', n)) as number;
      if (withSlow) n = (yield ctx.callActivity('slowStep', n)) as number;
      return n;
    });
    const worker = await Worker.start({ fabric, hub: 'eager', partitions: 2, orchestrations: [steps], activities: [fast, slow], logger, startupTimeoutMs: 5_000 });
    try {
      const { hub } = worker;
      for (const [id, withSlow] of [
        ['fast-only', false],
        ['with-slow', true],
      ] as const) {
        await fabric.publish(
          instanceInboxSubject('eager', id, hub.config.partitions),
          encodeJson(instanceMessages.started({ name: 'threeSteps', instanceId: id, mode: 'replaceTerminal', input: withSlow })),
          { msgId: `start:${id}` },
        );
      }
      for (const [id, output] of [
        ['fast-only', 3],
        ['with-slow', 300],
      ] as const) {
        const done = await until(`${id} to complete`, async () => {
          const st = await statusOf(hub, id);
          return st?.runtimeStatus === 'Completed' || st?.runtimeStatus === 'Failed' ? st : undefined;
        });
        expect(done.output).toBe(output);
      }
      const records = async (id: string) =>
        (await all(fabric, hub.names.eventStream, `eager.ev.*.o.${id}`)).map((m) =>
          decodeJson<{ h: Array<{ type: string; taskId?: number; eventId?: number }> }>(m.data).h.filter((e) => e.type.startsWith('Task') || e.type.startsWith('Execution')),
        );
      // One event: the start, each step scheduled then completed in order, the completion.
      const fastOnly = await records('fast-only');
      expect(fastOnly).toHaveLength(1);
      expect(fastOnly[0]!.map((e) => e.type)).toEqual([
        'ExecutionStarted',
        'TaskScheduled',
        'TaskCompleted',
        'TaskScheduled',
        'TaskCompleted',
        'TaskScheduled',
        'TaskCompleted',
        'ExecutionCompleted',
      ]);
      // The slow step did not finish within the first event: it ran after it and its result is a second one.
      const withSlow = await records('with-slow');
      expect(withSlow.map((r) => r.map((e) => e.type))).toEqual([
        ['ExecutionStarted', 'TaskScheduled', 'TaskCompleted', 'TaskScheduled', 'TaskCompleted', 'TaskScheduled', 'TaskCompleted', 'TaskScheduled'],
        ['TaskCompleted', 'ExecutionCompleted'],
      ]);
      // Nothing went through the queue.
      expect((await fabric.streamInfo(hub.names.activityStream)).lastSeq).toBe(0);
    } finally {
      await worker.stop();
      await fabric.close();
    }
  });

  it('a raw start sent again for a running instance the worker does not hold is a no-op: its first activity does not run again', async () => {
    const fabric = new MemoryFabric();
    let runs = 0;
    const once = activity('countedStep', async () => ++runs);
    const waits = orchestration('stepThenWait', function* (ctx) {
      const n: number = yield ctx.callActivity('countedStep');
      yield ctx.waitForExternalEvent('go');
      return n;
    });
    const options = { fabric, hub: 'dupstart', partitions: 2, orchestrations: [waits], activities: [once], logger, startupTimeoutMs: 5_000 };
    let worker = await Worker.start({ ...options, workerId: 'a' });
    const { hub } = worker;
    try {
      await fabric.publish(startSubject('dupstart', 'stepThenWait'), encodeJson({ instanceId: 'dup-1' }));
      await until('the first step', async () => ((await statusOf(hub, 'dup-1'))?.runtimeStatus === 'Running' && runs === 1 ? true : undefined));
      await worker.stop();
      // A fresh worker holds nothing in memory: the same start again is presumed new, then fenced.
      worker = await Worker.start({ ...options, workerId: 'b' });
      await fabric.publish(startSubject('dupstart', 'stepThenWait'), encodeJson({ instanceId: 'dup-1' }));
      await until('the duplicate start consumed', async () => {
        const info = await fabric.streamInfo(hub.names.startStream);
        return info.lastSeq === 2 && !worker.isBusy() ? true : undefined;
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(runs).toBe(1);
      await fabric.publish(instanceInboxSubject('dupstart', 'dup-1', hub.config.partitions), encodeJson(instanceMessages.eventRaised('go', null)));
      const done = await until('completion', async () => {
        const st = await statusOf(hub, 'dup-1');
        return st?.runtimeStatus === 'Completed' ? st : undefined;
      });
      expect(done.output).toBe(1);
      expect(runs).toBe(1);
    } finally {
      await worker.stop();
      await fabric.close();
    }
  });

  it('a graceful stop hands the activities still waiting for a slot on to the next worker: each runs once', async () => {
    const fabric = new MemoryFabric();
    const ran: Array<[string, number]> = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    /** Waits for the gate on the first worker only. */
    const makeSlow = (worker: string) =>
      activity('slowPart', async (n: number) => {
        ran.push([worker, n]);
        if (worker === 'a') await gate;
        return n * 10;
      });
    const fan = orchestration('fanThree', function* (ctx) {
      return yield ctx.all([1, 2, 3].map((n) => ctx.callActivity('slowPart', n)));
    });
    const options = { fabric, hub: 'handoff', partitions: 2, orchestrations: [fan], logger, startupTimeoutMs: 5_000, activityConcurrency: 1, leaseMs: 1_000 };
    const a = await Worker.start({ ...options, workerId: 'a', activities: [makeSlow('a')] });
    const { hub } = a;
    await fabric.publish(
      instanceInboxSubject('handoff', 'fan-1', hub.config.partitions),
      encodeJson(instanceMessages.started({ name: 'fanThree', instanceId: 'fan-1', mode: 'replaceTerminal' })),
      { msgId: 'start:fan-1' },
    );
    // One runs (held at the gate), two wait for the single slot; none went to the queue.
    await until('the first run', async () => (ran.length === 1 ? true : undefined));
    expect((await fabric.streamInfo(hub.names.activityStream)).lastSeq).toBe(0);
    const stopping = a.stop();
    // The running one finishes during the stop (once the runner stopped taking items: the start
    // router stops first); the waiting two are handed on.
    setTimeout(open, 100);
    await stopping;
    expect(ran).toEqual([['a', 1]]);
    // Published from the released checkpoint's owed list by the next owner.
    const b = await Worker.start({ ...options, workerId: 'b', activities: [makeSlow('b')] });
    try {
      const done = await until('fan-1 to complete', async () => {
        const st = await statusOf(hub, 'fan-1');
        return st?.runtimeStatus === 'Completed' ? st : undefined;
      });
      expect(done.output).toEqual([10, 20, 30]);
      expect(ran.slice().sort((x, y) => x[1] - y[1])).toEqual([
        ['a', 1],
        ['b', 2],
        ['b', 3],
      ]);
      expect((await fabric.streamInfo(hub.names.activityStream)).lastSeq).toBe(2);
    } finally {
      await b.stop();
      await fabric.close();
    }
  });
});

describe('Worker on a MemoryFabric with a virtual clock', () => {
  it('a durable timer a day away fires when the clock is moved a day, not before', async () => {
    const clock = new VirtualClock(Date.parse('2030-01-01T00:00:00Z'));
    const fabric = new MemoryFabric({ clock });
    const napper = orchestration('napper', function* (ctx) {
      const before = ctx.currentUtcDateTime.getTime();
      yield ctx.createTimer(new Date(before + DAY));
      const n: number = yield ctx.callActivity('double', 5);
      return { slept: ctx.currentUtcDateTime.getTime() - before, n };
    });
    const worker = await Worker.start({ fabric, hub: 'vclock', partitions: 2, orchestrations: [napper], activities: [double], logger, startupTimeoutMs: 5_000 });
    try {
      const { hub } = worker;
      await fabric.publish(
        instanceInboxSubject('vclock', 'nap-1', hub.config.partitions),
        encodeJson(instanceMessages.started({ name: 'napper', instanceId: 'nap-1', mode: 'ifNotExists' })),
      );
      await until('the instance running', async () => ((await statusOf(hub, 'nap-1'))?.runtimeStatus === 'Running' ? true : undefined));
      // Real time passes, virtual time does not: the timer stays pending.
      await new Promise((r) => setTimeout(r, 300));
      expect((await statusOf(hub, 'nap-1'))?.runtimeStatus).toBe('Running');
      await clock.advance(DAY - 60_000);
      await new Promise((r) => setTimeout(r, 100));
      expect((await statusOf(hub, 'nap-1'))?.runtimeStatus).toBe('Running');
      await clock.advance(60_000);
      const done = await until('nap-1 to complete', async () => {
        const s = await statusOf(hub, 'nap-1');
        return s?.runtimeStatus === 'Completed' ? s : undefined;
      });
      expect(done.output).toEqual({ slept: DAY, n: 10 });
    } finally {
      await worker.stop();
      await fabric.close();
    }
  });
});

describe('the activity runner and start router on a virtual clock', () => {
  it('a claimed activity keeps its claim while the clock jumps a week: it runs once', async () => {
    const clock = new VirtualClock(Date.parse('2030-01-01T00:00:00Z'));
    const fabric = new MemoryFabric({ clock });
    const hub = await openHubOn(fabric, { hub: 'vc', partitions: 2 });
    let runs = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const slow = activity('slow', async (n: number) => {
      runs++;
      await released;
      return n + 1;
    });
    // Concurrency 1: a second item waits for the slot, and its claim must hold too.
    const runner = new ActivityRunner({
      hub,
      logger,
      metrics: createWorkerMetrics({ worker: 'w', hub: 'vc' }),
      activities: new Map([['slow', slow]]),
      concurrency: 1,
      ackWaitMs: 30_000,
    });
    await runner.start();
    for (const taskId of [1, 2]) {
      await fabric.publish(activitySubject('vc', 'slow'), encodeJson(activityWorkItem({ instanceId: 'i1', taskId, name: 'slow', attempt: 1, input: taskId })), {
        msgId: `a${taskId}`,
      });
    }
    await until('the first item running', async () => (runs === 1 ? true : undefined));
    await clock.advance(7 * DAY);
    expect(runs).toBe(1); // neither the running nor the waiting item was delivered again
    release();
    const inbox = instanceInboxSubject('vc', 'i1', hub.config.partitions);
    const results = await until('both results', async () => {
      const r = await all(fabric, hub.names.inboxStream, inbox);
      return r.length >= 2 ? r : undefined;
    });
    expect(runs).toBe(2);
    expect(results.map((m) => decodeJson<{ type: string; taskId: number; result: number }>(m.data))).toEqual([
      expect.objectContaining({ type: 'TaskCompleted', taskId: 1, result: 2 }),
      expect.objectContaining({ type: 'TaskCompleted', taskId: 2, result: 3 }),
    ]);
    await clock.advance(DAY);
    expect(runs).toBe(2);
    expect((await fabric.streamInfo(hub.names.activityStream)).messages).toBe(0);
    await runner.stop();
    expect(clock.pendingTimers).toBe(0); // nothing held: no heartbeat left on the clock
    await fabric.close();
  });

  it('routes a raw start to the instance inbox, and dead-letters a malformed one', async () => {
    const store = new MemoryStore({ clock: new VirtualClock(0) });
    const fabric = store.connect();
    const hub = await openHubOn(fabric, { hub: 'rt', partitions: 3 });
    const router = new StartRouter(hub, logger);
    await router.start();
    await fabric.publish(startSubject('rt', 'flow'), encodeJson({ instanceId: 'x1', input: 7 }));
    await fabric.publish(startSubject('rt', 'flow'), encodeJson({ instanceId: 42 }));
    const routed = await until('the routed start', async () => (await fabric.readLast(hub.names.inboxStream, instanceInboxSubject('rt', 'x1', 3))) ?? undefined);
    expect(decodeJson(routed.data)).toEqual(instanceMessages.started({ name: 'flow', instanceId: 'x1', mode: 'ifNotExists', input: 7 }));
    const parked = await until('the dead letter', async () => (await fabric.readLast(hub.names.deadLetterStream, 'rt.dlq.start')) ?? undefined);
    expect(parked.headers?.get('Dn-Reason')).toMatch(/malformed start/);
    await until('the start stream drained', async () => ((await fabric.workQueues(hub.names.startStream))[0]?.ackPending === 0 ? true : undefined));
    await router.stop();
    await fabric.close();
  });

  it('openHubOn fixes the configuration once: a second hub on the store reads it back', async () => {
    const store = new MemoryStore();
    const a = await openHubOn(store.connect(), { hub: 'cfg', partitions: 5 });
    const b = await openHubOn(store.connect(), { hub: 'cfg', partitions: 9 });
    expect(a.config.partitions).toBe(5);
    expect(b.config).toEqual(a.config);
    // A hub holds the port only: nothing of NATS.
    expect(Object.keys(a).sort()).toEqual(['config', 'fabric', 'kv', 'names']);
  });
});
