/** The pure entity executor, without a server: ordering, skipping, errors, effects, locks. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EntityId } from '../../src/core/entity-id.js';
import { entity } from '../../src/entity/definition.js';
import { executeEntityBatch, newSnapshot, type EntitySnapshot } from '../../src/entity/executor.js';
import { entityMessageSchema, parseEntityBatch, parseEntityMessage, parseMultiBatch, type EntityMessage, type InboxEntityMessage } from '../../src/entity/messages.js';

const counter = entity('Counter', {
  state: () => ({ value: 0, log: [] as string[] }),
  operations: {
    add: {
      input: z.number(),
      handler: (s, n: number) => {
        s.value += n;
      },
    },
    fail: (s) => {
      s.value = 999;
      throw new Error('nope');
    },
    get: (s) => s.value,
    snapshot: (s) => s, // returns the draft itself: must be detached
    forward: (s, target: string, ctx) => {
      s.log.push('fwd');
      ctx.signalEntity(target, 'add', 1);
      ctx.signalEntity(target, 'add', 2, { delayMs: 1000 });
    },
    forwardThenFail: (_s, target: string, ctx) => {
      ctx.signalEntity(target, 'add', 1);
      throw new Error('after signal');
    },
    start: (_s, _i, ctx) => ctx.startNew('hello', { input: 1 }),
    erase: (_s, _i, ctx) => {
      ctx.deleteState();
    },
    slow: async (s, n: number) => {
      await new Promise((r) => setTimeout(r, 5));
      s.value += n;
      return s.value;
    },
    /** Passes parts of its own (draft) state on: the effects must hold copies, not revoked drafts. */
    share: (s, target: string, ctx) => {
      s.log.push('shared');
      ctx.signalEntity(target, 'note', s.log);
      ctx.startNew('hello', { input: { log: s.log } });
    },
  },
});

const id = new EntityId('counter', 'k');
let seq = 0;
const msg = (body: EntityMessage, extra: Partial<InboxEntityMessage> = {}): InboxEntityMessage => ({ seq: ++seq, body, ...extra });
const run = (start: EntitySnapshot<any>, messages: InboxEntityMessage[]) => executeEntityBatch(counter, id, start, messages, (s, n) => `inst-${s}-${n}`);

describe('entity executor', () => {
  it('copies effect inputs taken from the draft state, so they survive the end of the handler', async () => {
    const r = await run(newSnapshot(counter), [msg({ op: 'share', input: '@counter@other' })]);
    expect(r.applied).toBe(1);
    // Encoding after the batch used to throw "Cannot perform 'get' on a proxy that has been revoked".
    const encoded = JSON.parse(JSON.stringify(r.effects.map((e) => e.effect)));
    expect(encoded).toEqual([
      { kind: 'signal', target: '@counter@other', body: { op: 'note', input: ['shared'] } },
      { kind: 'start', name: 'hello', instanceId: expect.any(String), input: { log: ['shared'] } },
    ]);
  });

  it('normalizes names and applies operations in order, returning results to calls', async () => {
    expect(counter.name).toBe('counter');
    const r = await run(newSnapshot(counter), [msg({ op: 'add', input: 2 }), msg({ op: 'ADD', input: 3 }), msg({ op: 'get', k: 'c', reply: 'r1' })]);
    expect(r.snapshot.state).toMatchObject({ value: 5 });
    expect(r.snapshot.exists).toBe(true);
    expect(r.applied).toBe(3);
    expect(r.executed.find((e) => e.reply === 'r1')?.outcome).toEqual({ ok: true, result: 5 });
  });

  it('skips messages at or below the applied sequence and repeated idempotency keys', async () => {
    const first = await run(newSnapshot(counter), [msg({ op: 'add', input: 1 }, { msgId: 'a' })]);
    const again = await run(first.snapshot, [{ seq: first.snapshot.meta.in, body: { op: 'add', input: 10 } }]);
    expect(again.applied).toBe(0);
    const dup = await run(first.snapshot, [msg({ op: 'add', input: 1 }, { msgId: 'a' }), msg({ op: 'add', input: 10 }, { msgId: 'b' })]);
    expect(dup.snapshot.state).toMatchObject({ value: 11 });
    expect(dup.applied).toBe(1);
  });

  it("applies a batch message's signals in order under its one sequence, once; an async one in the middle waits", async () => {
    const batch: EntityMessage[] = [
      { op: 'add', input: 1 },
      { op: 'slow', input: 10 },
      { op: 'add', input: 100 },
    ];
    const m = msg(batch[0]!, { batch });
    const r = await run(newSnapshot(counter), [m]);
    expect(r.snapshot.state).toMatchObject({ value: 111 });
    expect(r.applied).toBe(3);
    expect(r.snapshot.meta.in).toBe(m.seq);
    // Delivered again (a takeover re-reads the inbox): nothing is applied twice.
    const again = await run(r.snapshot, [m]);
    expect(again.applied).toBe(0);
    expect(again.snapshot.state).toMatchObject({ value: 111 });
  });

  it('dead-letters only the signal of a batch that cannot run; the others are applied', async () => {
    const batch: EntityMessage[] = [{ op: 'add', input: 1 }, { op: 'nope' }, { op: 'add', input: 2 }];
    const r = await run(newSnapshot(counter), [msg(batch[0]!, { batch })]);
    expect(r.snapshot.state).toMatchObject({ value: 3 });
    expect(r.deadLetters.map((d) => d.body)).toEqual([{ op: 'nope' }]);
  });

  it('leaves state unchanged and drops effects when an operation throws', async () => {
    const start = (await run(newSnapshot(counter), [msg({ op: 'add', input: 4 })])).snapshot;
    const r = await run(start, [msg({ op: 'forwardThenFail', input: '@counter@other', k: 'c', reply: 'x' }), msg({ op: 'fail', k: 'c', reply: 'y' })]);
    expect(r.snapshot.state).toMatchObject({ value: 4 });
    expect(r.effects).toEqual([]);
    expect(r.executed.map((e) => e.outcome.error?.message)).toEqual(['after signal', 'nope']);
  });

  it('dead-letters unknown operations and invalid input, answering callers with validation', async () => {
    const r = await run(newSnapshot(counter), [msg({ op: 'nope', k: 'c', reply: 'a' }), msg({ op: 'add', input: 'x', k: 'c', reply: 'b' }), msg({ op: 'add', input: 1 })]);
    expect(r.deadLetters.map((d) => d.reason)).toEqual([expect.stringContaining("no operation 'nope'"), expect.stringContaining("invalid input for 'counter.add'")]);
    expect(r.executed.filter((e) => e.reply).map((e) => e.outcome.error?.code)).toEqual(['validation', 'validation']);
    expect(r.snapshot.state).toMatchObject({ value: 1 });
  });

  it('collects signals (with delay), starts and orchestration responses as effects', async () => {
    const r = await run(newSnapshot(counter), [msg({ op: 'forward', input: '@counter@other' }), msg({ op: 'start', k: 'c', from: { i: 'orch-1', r: 7 } })]);
    const kinds = r.effects.map((e) => e.effect.kind);
    expect(kinds).toEqual(['signal', 'signal', 'start', 'respond']);
    const delayed = r.effects[1]!.effect as { delayUntil?: number };
    expect(delayed.delayUntil).toBeGreaterThan(Date.now());
    expect(r.effects[3]!.effect).toMatchObject({ kind: 'respond', instanceId: 'orch-1', requestId: 7, outcome: { ok: true, result: expect.stringMatching(/^inst-/) } });
  });

  it('detaches results that reference the draft', async () => {
    const r = await run(newSnapshot(counter), [msg({ op: 'add', input: 1 }), msg({ op: 'snapshot', k: 'c', reply: 'r' })]);
    const result = r.executed[1]!.outcome.result as { value: number };
    expect(result).toEqual({ value: 1, log: [] });
    expect(() => JSON.stringify(result)).not.toThrow();
  });

  it('runs async handlers one at a time', async () => {
    const r = await run(newSnapshot(counter), [msg({ op: 'slow', input: 1, k: 'c', reply: 'a' }), msg({ op: 'slow', input: 2, k: 'c', reply: 'b' })]);
    expect(r.executed.map((e) => e.outcome.result)).toEqual([1, 3]);
  });

  it('deleteState resets to not existing', async () => {
    const start = (await run(newSnapshot(counter), [msg({ op: 'add', input: 4 })])).snapshot;
    const r = await run(start, [msg({ op: 'erase' })]);
    expect(r.snapshot.exists).toBe(false);
    expect(r.snapshot.state).toMatchObject({ value: 0 });
  });

  it('lock: queues others until unlock, forwards the lock chain, lets the owner through', async () => {
    const lockReq = msg({ op: '__lock', k: 'lock', lock: { o: 'orch', l: 1, ids: ['@counter@k', '@counter@z'], n: 0 } });
    const locked = await run(newSnapshot(counter), [lockReq, msg({ op: 'add', input: 5 }), msg({ op: 'add', input: 1, k: 'c', from: { i: 'orch', r: 2 } })]);
    expect(locked.snapshot.meta.lock).toEqual({ o: 'orch', l: 1 });
    expect(locked.snapshot.meta.q).toHaveLength(1);
    expect(locked.snapshot.state).toMatchObject({ value: 1 }); // only the owner's call ran
    expect(locked.effects[0]!.effect).toMatchObject({ kind: 'signal', target: '@counter@z', body: { k: 'lock', lock: { n: 1 } } });
    const unlocked = await run(locked.snapshot, [msg({ op: '__unlock', k: 'unlock', lock: { o: 'orch', l: 1, ids: [], n: 0 } })]);
    expect(unlocked.snapshot.meta.lock).toBeUndefined();
    expect(unlocked.snapshot.meta.q).toBeUndefined();
    expect(unlocked.snapshot.state).toMatchObject({ value: 6 });
  });

  it('lock: the last entity grants; an unlock that overtakes its request prevents the lock', async () => {
    const last = await run(newSnapshot(counter), [msg({ op: '__lock', k: 'lock', lock: { o: 'orch', l: 3, ids: ['@counter@a', '@counter@k'], n: 1 } })]);
    expect(last.effects[0]!.effect).toEqual({ kind: 'lockGranted', instanceId: 'orch', lockId: 3 });
    const early = await run(newSnapshot(counter), [
      msg({ op: '__unlock', k: 'unlock', lock: { o: 'orch', l: 4, ids: [], n: 0 } }),
      msg({ op: '__lock', k: 'lock', lock: { o: 'orch', l: 4, ids: ['@counter@k'], n: 0 } }),
      msg({ op: 'add', input: 1 }),
    ]);
    expect(early.snapshot.meta.lock).toBeUndefined();
    expect(early.snapshot.state).toMatchObject({ value: 1 });
  });
});

describe('entity executor: any JSON state', () => {
  const tally = entity('tally', {
    state: () => 0,
    operations: {
      add: (s, n: number, ctx) => ctx.setState(s + n),
      addThenFail: (s, n: number, ctx) => {
        ctx.setState(s + n);
        throw new Error('after setState');
      },
      get: (s) => s,
    },
  });
  const label = entity('label', {
    state: (): string | null => null,
    operations: { set: (_s, v: string | null, ctx) => ctx.setState(v), get: (s) => s },
  });
  const doc = entity('doc', {
    state: () => ({ items: [1] as number[], n: 0 }),
    operations: {
      replace: (s, _i, ctx) => {
        s.n = 99;
        ctx.setState({ items: [...s.items, 2], n: 1 });
      },
      keepDraftPart: (s, _i, ctx) => {
        s.items.push(3);
        ctx.setState({ items: s.items, n: 7 });
      },
    },
  });
  const runOn = <S>(def: typeof tally | typeof label | typeof doc, start: EntitySnapshot<S>, messages: InboxEntityMessage[]) =>
    executeEntityBatch(def as any, new EntityId(def.name, 'k'), start as any, messages, (s, n) => `i-${s}-${n}`);

  it('a number state changes through setState and is returned as is', async () => {
    const r = await runOn(tally, newSnapshot(tally), [msg({ op: 'add', input: 2 }), msg({ op: 'add', input: 3 }), msg({ op: 'get', k: 'c', reply: 'r' })]);
    expect(r.executed.map((e) => e.outcome)).toEqual([{ ok: true }, { ok: true }, { ok: true, result: 5 }]);
    expect(r.snapshot).toMatchObject({ exists: true, state: 5 });
  });

  it('a throwing handler leaves a primitive state unchanged, also after setState', async () => {
    const start = (await runOn(tally, newSnapshot(tally), [msg({ op: 'add', input: 4 })])).snapshot;
    const r = await runOn(tally, start, [msg({ op: 'addThenFail', input: 10, k: 'c', reply: 'x' }), msg({ op: 'get', k: 'c', reply: 'y' })]);
    expect(r.executed.map((e) => e.outcome)).toEqual([
      { ok: false, error: expect.objectContaining({ message: 'after setState' }) },
      { ok: true, result: 4 },
    ]);
    expect(r.snapshot.state).toBe(4);
  });

  it('null and string states', async () => {
    const r = await runOn(label, newSnapshot(label), [
      msg({ op: 'get', k: 'c', reply: 'a' }),
      msg({ op: 'set', input: 'x' }),
      msg({ op: 'get', k: 'c', reply: 'b' }),
      msg({ op: 'set', input: null }),
    ]);
    expect(r.executed.filter((e) => e.reply).map((e) => e.outcome)).toEqual([
      { ok: true, result: null },
      { ok: true, result: 'x' },
    ]);
    expect(r.snapshot).toMatchObject({ exists: true, state: null });
  });

  it('setState replaces an object state whole (draft changes discarded), even with parts of the draft', async () => {
    const replaced = await runOn(doc, newSnapshot(doc), [msg({ op: 'replace' })]);
    expect(replaced.snapshot.state).toEqual({ items: [1, 2], n: 1 });
    const kept = await runOn(doc, replaced.snapshot, [msg({ op: 'keepDraftPart' })]);
    expect(kept.snapshot.state).toEqual({ items: [1, 2, 3], n: 7 });
    expect(JSON.parse(JSON.stringify(kept.snapshot.state))).toEqual({ items: [1, 2, 3], n: 7 }); // no revoked proxy inside
  });
});

describe('parseEntityMessage', () => {
  it('returns what the schema returns, for the fast shape and everything else', () => {
    const bodies: unknown[] = [
      { op: 'add', input: 5 },
      { op: 'add' },
      { op: 'get', k: 'c', reply: '_INBOX.x.1' },
      { op: 'add', input: { deep: [1, 2] }, k: 's' },
      { op: 'add', extra: 1 },
      { op: '' },
      { op: 'x'.repeat(257) },
      { op: 'add', k: 'nope' },
      { op: 'add', reply: 'r'.repeat(513) },
      { op: 'add', reply: 7 },
      { op: 'add', from: { i: 'inst', r: 1 } },
      { op: '__lock', k: 'lock', lock: { o: 'o', l: 1, ids: ['@a@b'], n: 0 } },
      { op: 7 },
      [],
      null,
      'add',
    ];
    for (const body of bodies) {
      const fast = parseEntityMessage(body);
      const schema = entityMessageSchema.safeParse(body);
      expect(fast.success, JSON.stringify(body)).toBe(schema.success);
      if (fast.success && schema.success) expect(fast.data).toEqual(schema.data);
    }
  });
});

describe('parseEntityBatch', () => {
  it('accepts plain signals only, and says why it refuses a batch', () => {
    expect(parseEntityBatch({ op: 'add' })).toBeUndefined();
    expect(parseEntityBatch({ b: [{ op: 'add', input: 1 }, { op: 'Get' }] })).toEqual([{ op: 'add', input: 1 }, { op: 'Get' }]);
    expect(parseEntityBatch({ b: [] })).toMatch(/1\.\.1024/);
    expect(parseEntityBatch({ b: [{ op: 'add' }], extra: 1 })).toMatch(/only the field/);
    expect(parseEntityBatch({ b: [{ op: 'add' }, { op: '' }] })).toMatch(/signal 1 of the batch/);
    expect(parseEntityBatch({ b: [{ op: 'get', k: 'c', reply: 'x' }] })).toMatch(/plain signals only/);
    expect(parseEntityBatch({ b: [{ op: 'x', from: { i: 'o', r: 1 } }] })).toMatch(/plain signals only/);
  });
});

describe('parseMultiBatch', () => {
  it('accepts [token, signals] groups, each entity once, and says why it refuses', () => {
    expect(
      parseMultiBatch({
        m: [
          ['e.counter.a', [{ op: 'add' }]],
          ['e.counter.b', [{ op: 'add', input: 2 }]],
        ],
      }),
    ).toHaveLength(2);
    expect(parseMultiBatch({ m: [] })).toMatch(/non-empty/);
    expect(parseMultiBatch({ m: [['e.counter.a', []]], x: 1 })).toMatch(/only the field/);
    expect(
      parseMultiBatch({
        m: [
          ['e.counter.a', [{ op: 'add' }]],
          ['e.counter.a', [{ op: 'add' }]],
        ],
      }),
    ).toMatch(/twice/);
    expect(parseMultiBatch({ m: [['e.counter.a']] })).toMatch(/\[actorToken/);
    expect(parseMultiBatch([])).toMatch(/object/);
  });
});
