/**
 * The fabric contract: what the engine relies on from a store (src/store/fabric.ts), as one
 * suite run against every implementation (memory: test/unit/testing/memory-fabric.test.ts;
 * NATS: test/integration/fabric-contract.test.ts). A behaviour is in the port only if it is here.
 *
 * Time-dependent rules (dedupe window, ack wait, nak delay) are checked with `pass(ms)`: a
 * virtual clock advances, a real one sleeps; the durations are short so both stay fast.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableError } from '../../src/core/errors.js';
import type { CoreMessage, Fabric, KvChange, StoredMessage, WorkItem, WorkQueue } from '../../src/store/fabric.js';

export interface FabricHarness {
  fabric: Fabric;
  /** Another connection to the same store (another process's view). */
  connect(): Promise<Fabric>;
  /** Lets `ms` of the fabric clock's time pass. */
  pass(ms: number): Promise<void>;
  close(): Promise<void>;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
let counter = 0;
/** Unique stream, bucket and subject names per test: the suite shares one store. */
const uid = (p: string) => `${p}${++counter}${Math.random().toString(36).slice(2, 6)}`;

/** Polls (in real time) until `fn` passes; deliveries are asynchronous on every fabric. */
async function eventually(fn: () => void | Promise<void>, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'none';
  } catch (e) {
    return DurableError.is(e) ? e.code : `not a DurableError: ${String(e)}`;
  }
}

export function fabricContract(name: string, start: () => Promise<FabricHarness>): void {
  describe(`fabric contract: ${name}`, () => {
    let h: FabricHarness;
    let f: Fabric;
    beforeAll(async () => {
      h = await start();
      f = h.fabric;
    }, 30_000);
    afterAll(async () => {
      await h?.close();
    });

    /** A fresh stream on `<p>.>`; returns its name and subject prefix. */
    async function stream(o: { workQueue?: boolean; duplicateWindowMs?: number } = {}) {
      const s = uid('S');
      const p = uid('p');
      await f.ensureStream({ name: s, subjects: [`${p}.>`], ...o });
      return { s, p };
    }

    describe('streams', () => {
      it('numbers messages per stream, stores them whole, and reads the last of a subject or a filter', async () => {
        const { s, p } = await stream();
        const acks = [await f.publish(`${p}.a`, enc('1')), await f.publish(`${p}.b`, enc('2')), await f.publish(`${p}.a`, enc('3'), { headers: { 'X-One': 'x' } })];
        expect(acks.map((a) => [a.stream, a.seq, a.duplicate])).toEqual([
          [s, 1, false],
          [s, 2, false],
          [s, 3, false],
        ]);
        const last = await f.readLast(s, `${p}.a`);
        expect(last && { seq: last.seq, subject: last.subject, data: dec(last.data), x: last.headers?.get('X-One') }).toEqual({ seq: 3, subject: `${p}.a`, data: '3', x: 'x' });
        expect((await f.readLast(s, `${p}.b`))?.seq).toBe(2);
        expect((await f.readLast(s, `${p}.*`))?.seq).toBe(3);
        expect(await f.readLast(s, `${p}.none`)).toBeNull();
        const lead = await f.readLast(s, `${p}.*`, { leader: true });
        expect(lead && { seq: lead.seq, data: dec(lead.data), x: lead.headers?.get('X-One') }).toEqual({ seq: 3, data: '3', x: 'x' });
        expect(await f.readLast(s, `${p}.none`, { leader: true })).toBeNull();
        await f.ensureStream({ name: s, subjects: [`${p}.>`] }); // idempotent: keeps the messages
        expect((await f.readLast(s, `${p}.>`))?.seq).toBe(3);
      });

      it("refuses a stream whose subjects overlap another's", async () => {
        const { p } = await stream();
        expect(await codeOf(f.ensureStream({ name: uid('S'), subjects: [`${p}.x`] }))).toBe('connection');
      });

      it('refuses a publish no stream captures with connection', async () => {
        expect(await codeOf(f.publish(uid('nowhere.'), enc('x')))).toBe('connection');
      });

      it('dedupes a msgId within the window, on the fabric clock, and stores it again after', async () => {
        const { s, p } = await stream({ duplicateWindowMs: 1_000 });
        const a = await f.publish(`${p}.x`, enc('a'), { msgId: 'm1' });
        const b = await f.publish(`${p}.x`, enc('b'), { msgId: 'm1' });
        expect(b).toEqual({ stream: s, seq: a.seq, duplicate: true });
        expect(dec((await f.readLast(s, `${p}.x`))!.data)).toBe('a');
        expect((await f.publish(`${p}.x`, enc('c'), { msgId: 'm2' })).duplicate).toBe(false);
        await h.pass(1_600);
        const c = await f.publish(`${p}.x`, enc('d'), { msgId: 'm1' });
        expect(c.duplicate).toBe(false);
        expect(c.seq).toBe(3);
      });

      it("fences on the subject's last sequence: a stale writer is rejected with fenced and stores nothing", async () => {
        const { s, p } = await stream();
        await f.publish(`${p}.other`, enc('o'));
        expect((await f.publish(`${p}.a`, enc('1'), { expectedLastSubjectSequence: 0 })).seq).toBe(2);
        expect(await codeOf(f.publish(`${p}.a`, enc('x'), { expectedLastSubjectSequence: 0 }))).toBe('fenced');
        expect(await codeOf(f.publish(`${p}.a`, enc('x'), { expectedLastSubjectSequence: 1 }))).toBe('fenced');
        expect((await f.publish(`${p}.a`, enc('2'), { expectedLastSubjectSequence: 2 })).seq).toBe(3);
        await f.publish(`${p}.other`, enc('o2')); // other subjects do not move a.
        expect((await f.publish(`${p}.a`, enc('3'), { expectedLastSubjectSequence: 3 })).seq).toBe(5);
        expect(dec((await f.readLast(s, `${p}.a`))!.data)).toBe('3');
      });

      it('a duplicate is answered as a duplicate even when its fence is stale (a retried append)', async () => {
        const { p } = await stream();
        const first = await f.publish(`${p}.a`, enc('1'), { msgId: 'once', expectedLastSubjectSequence: 0 });
        const again = await f.publish(`${p}.a`, enc('1'), { msgId: 'once', expectedLastSubjectSequence: 0 });
        expect(again).toMatchObject({ seq: first.seq, duplicate: true });
      });

      it('scans a filter in order from a sequence up to the last message at the start (or untilSeq)', async () => {
        const { s, p } = await stream();
        for (const x of ['a1', 'b1', 'a2', 'a3', 'b2']) await f.publish(`${p}.${x[0]}`, enc(x));
        const seen: string[] = [];
        let last = await f.scan(s, `${p}.a`, 1, async (m) => {
          seen.push(dec(m.data));
          if (m.seq === 1) await f.publish(`${p}.a`, enc('late')); // after the start: not in this scan
        });
        expect(seen).toEqual(['a1', 'a2', 'a3']);
        expect(last).toBe(4);
        seen.length = 0;
        last = await f.scan(
          s,
          `${p}.>`,
          3,
          (m) => {
            seen.push(dec(m.data));
          },
          { untilSeq: 5 },
        );
        expect(seen).toEqual(['a2', 'a3', 'b2']);
        expect(last).toBe(5);
        expect(
          await f.scan(s, `${p}.none`, 1, () => {
            throw new Error('nothing to see');
          }),
        ).toBe(0);
      });

      it('purges a filter below a sequence, keeping the rest and the fence', async () => {
        const { s, p } = await stream();
        for (const x of ['a', 'a', 'b', 'a']) await f.publish(`${p}.${x}`, enc(x));
        expect(await f.purge(s, { filter: `${p}.a`, beforeSeq: 4 })).toBe(2);
        const left: number[] = [];
        await f.scan(s, `${p}.>`, 1, (m) => {
          left.push(m.seq);
        });
        expect(left).toEqual([3, 4]);
        expect((await f.publish(`${p}.a`, enc('a'), { expectedLastSubjectSequence: 4 })).seq).toBe(5);
        expect(await f.purge(s, { filter: `${p}.b` })).toBe(1);
        expect(await f.readLast(s, `${p}.b`)).toBeNull();
      });

      it('keeps the newest n of a filter when purging with keep, and deletes one message', async () => {
        const { s, p } = await stream();
        for (const x of ['a', 'a', 'b', 'a', 'a']) await f.publish(`${p}.${x}`, enc(x));
        expect(await f.purge(s, { filter: `${p}.a`, keep: 2 })).toBe(2);
        const left: number[] = [];
        await f.scan(s, `${p}.>`, 1, (m) => {
          left.push(m.seq);
        });
        expect(left).toEqual([3, 4, 5]);
        expect(await f.deleteMessage(s, 4)).toBe(true);
        expect(await f.deleteMessage(s, 4)).toBe(false);
        expect(await f.readNext(s, `${p}.>`, 4)).toMatchObject({ seq: 5 });
        expect(await codeOf(f.purge(s, { keep: 1, beforeSeq: 3 }))).toBe('validation');
      });

      it('reads the next message of a filter from a sequence, with when it was stored, and tells the stream sequences', async () => {
        const { s, p } = await stream();
        const before = f.clock.now();
        for (const x of ['a', 'b', 'a']) await f.publish(`${p}.${x}`, enc(x));
        const m = await f.readNext(s, `${p}.a`, 2);
        expect([m?.seq, m?.subject, dec(m!.data)]).toEqual([3, `${p}.a`, 'a']);
        // NATS stamps with the server's clock: allow the second a timestamp may be off by.
        expect(m!.time).toBeGreaterThanOrEqual(before - 1_000);
        expect(m!.time).toBeLessThanOrEqual(f.clock.now() + 1_000);
        expect((await f.readLast(s, `${p}.b`))?.time).toBeTypeOf('number');
        expect(await f.readNext(s, `${p}.b`, 3)).toBeNull();
        expect(await f.readNext(s, '>', 1)).toMatchObject({ seq: 1 });
        expect(await f.streamInfo(s)).toEqual({ firstSeq: 1, lastSeq: 3, messages: 3 });
        await f.purge(s, { beforeSeq: 3 });
        expect(await f.streamInfo(s)).toEqual({ firstSeq: 3, lastSeq: 3, messages: 1 });
      });

      it('follows a filter from a sequence: what exists, then what comes, in order, with backpressure', async () => {
        const { s, p } = await stream();
        await f.publish(`${p}.a`, enc('1'));
        await f.publish(`${p}.b`, enc('skip'));
        await f.publish(`${p}.a`, enc('2'));
        const got: string[] = [];
        let inside = 0;
        let overlapped = false;
        let release!: () => void;
        const gate = new Promise<void>((r) => {
          release = r;
        });
        const follow = await f.follow(s, `${p}.a`, 2, async (m: StoredMessage) => {
          if (++inside > 1) overlapped = true;
          got.push(dec(m.data));
          if (got.length === 1) await gate; // hold the first: nothing else may arrive meanwhile
          inside--;
        });
        await eventually(() => expect(got).toEqual(['2']));
        await f.publish(`${p}.a`, enc('3'));
        await f.publish(`${p}.a`, enc('4'));
        await new Promise((r) => setTimeout(r, 50));
        expect(got).toEqual(['2']);
        release();
        await eventually(() => expect(got).toEqual(['2', '3', '4']));
        follow.stop();
        follow.stop();
        await f.publish(`${p}.a`, enc('5'));
        await new Promise((r) => setTimeout(r, 50));
        expect(got).toEqual(['2', '3', '4']);
        expect(overlapped).toBe(false);
      });
    });

    describe('core publish/subscribe', () => {
      it('delivers to * and > subscriptions once they are in place, and stream publishes too', async () => {
        const p = uid('core');
        const star: string[] = [];
        const all: CoreMessage[] = [];
        const s1 = await f.subscribe(`${p}.*`, (m) => star.push(m.subject));
        const s2 = await f.subscribe(`${p}.>`, (m) => all.push(m));
        const other = await h.connect();
        other.publishCore(`${p}.a`, enc('x'), { headers: { 'X-H': 'v' } });
        other.publishCore(`${p}.a.b`, enc('y'));
        await eventually(() => expect(all.map((m) => m.subject)).toEqual([`${p}.a`, `${p}.a.b`]));
        expect(star).toEqual([`${p}.a`]);
        expect(dec(all[0]!.data)).toBe('x');
        expect(all[0]!.headers?.get('X-H')).toBe('v');
        s1.stop();
        s2.stop();
        const { p: sp } = await stream();
        const seen: string[] = [];
        const s3 = await f.subscribe(`${sp}.>`, (m) => seen.push(dec(m.data)));
        await f.publish(`${sp}.e`, enc('stored'));
        await eventually(() => expect(seen).toEqual(['stored']));
        s3.stop();
        await other.close();
      });

      it('a core publish to a captured subject is stored, and its PubAck goes to the reply subject', async () => {
        const { s, p } = await stream();
        const reply = f.inbox();
        const acks: Array<{ stream?: string; seq?: number }> = [];
        const sub = await f.subscribe(reply, (m) => acks.push(JSON.parse(dec(m.data))));
        f.publishCore(`${p}.lean`, enc('fast'), { reply, headers: { 'Nats-Msg-Id': 'lean-1' } });
        f.publishCore(`${p}.lean`, enc('fast again'), { reply, headers: { 'Nats-Msg-Id': 'lean-1' } });
        await eventually(() => expect(acks).toHaveLength(2));
        expect(acks.map((a) => [a.stream, a.seq])).toEqual([
          [s, 1],
          [s, 1],
        ]);
        const stored = await f.readLast(s, `${p}.lean`);
        expect(stored && [stored.seq, dec(stored.data)]).toEqual([1, 'fast']);
        sub.stop();
      });

      it('gives unique inboxes (reply subjects)', async () => {
        const a = f.inbox();
        const b = f.inbox();
        expect(a).not.toBe(b);
        const got: string[] = [];
        const sub = await f.subscribe(`${a}.*`, (m) => got.push(m.subject));
        f.publishCore(`${a}.7`, enc('reply'));
        f.publishCore(`${b}.7`, enc('not mine'));
        await eventually(() => expect(got).toEqual([`${a}.7`]));
        sub.stop();
      });
    });

    describe('KV buckets', () => {
      it('gets, puts, creates and updates by revision; a stale revision or an existing key is fenced', async () => {
        const kv = await f.kv(uid('b'));
        expect(await kv.get('k')).toBeNull();
        const r1 = await kv.create('k', enc('v1'));
        expect(await codeOf(kv.create('k', enc('again')))).toBe('fenced');
        const r2 = await kv.update('k', enc('v2'), r1);
        expect(r2).toBeGreaterThan(r1);
        expect(await codeOf(kv.update('k', enc('stale'), r1))).toBe('fenced');
        const e = await kv.get('k');
        expect(e && { key: e.key, value: dec(e.value), revision: e.revision }).toEqual({ key: 'k', value: 'v2', revision: r2 });
        const r3 = await kv.put('k', enc('v3'));
        expect(r3).toBeGreaterThan(r2);
        await kv.delete('k');
        expect(await kv.get('k')).toBeNull();
        expect(await kv.create('k', enc('reborn'))).toBeGreaterThan(r3);
        await kv.delete('k', { purge: true });
        expect(await kv.get('k')).toBeNull();
        expect(await kv.keys()).toEqual([]);
      });

      it('lists live keys with a filter', async () => {
        const kv = await f.kv(uid('b'));
        for (const k of ['0.a', '0.b', '1.a', 'w.x']) await kv.put(k, enc(k));
        await kv.delete('0.b');
        expect((await kv.keys()).sort()).toEqual(['0.a', '1.a', 'w.x']);
        expect(await kv.keys('0.>')).toEqual(['0.a']);
        expect((await kv.keys('*.a')).sort()).toEqual(['0.a', '1.a']);
      });

      it('a put is a publish on $KV.<bucket>.<key> that core subscribers see; a delete says so in KV-Operation', async () => {
        const b = uid('b');
        const kv = await f.kv(b);
        const seen: Array<[string, string, string | undefined]> = [];
        const sub = await f.subscribe(`$KV.${b}.>`, (m) => seen.push([m.subject, dec(m.data), m.headers?.get('KV-Operation')]));
        await kv.put('s.1', enc('running'));
        await kv.delete('s.1');
        await eventually(() =>
          expect(seen).toEqual([
            [`$KV.${b}.s.1`, 'running', undefined],
            [`$KV.${b}.s.1`, '', 'DEL'],
          ]),
        );
        sub.stop();
        // And a stream publish on that subject is a put (effects write the entity index this way).
        await f.publish(`$KV.${b}.idx`, enc('1'));
        expect(dec((await kv.get('idx'))!.value)).toBe('1');
      });

      it('watches: current values first, then every change in order, until stopped', async () => {
        const kv = await f.kv(uid('b'));
        await kv.put('a', enc('1'));
        await kv.put('b', enc('2'));
        await kv.delete('b');
        const changes: KvChange[] = [];
        const w = await kv.watch((c) => changes.push(c));
        const other = await (await h.connect()).kv(kv.name);
        await other.put('a', enc('3'));
        await other.delete('a');
        const view = () => changes.map((c) => `${c.op} ${c.key}${c.op === 'PUT' ? `=${dec(c.value)}` : ''}`);
        await eventually(() => expect(view()).toEqual(['PUT a=1', 'DEL b', 'PUT a=3', 'DEL a']));
        expect(changes.map((c) => c.revision)).toEqual([...changes.map((c) => c.revision)].sort((x, y) => x - y));
        w.stop();
        await other.put('a', enc('4'));
        await new Promise((r) => setTimeout(r, 50));
        expect(changes).toHaveLength(4);
        const filtered: string[] = [];
        const w2 = await kv.watch((c) => filtered.push(c.key), { filter: 'a' });
        await eventually(() => expect(filtered).toEqual(['a']));
        w2.stop();
      });
    });

    describe('work queues', () => {
      async function queue(ackWaitMs = 1_000) {
        const { s, p } = await stream({ workQueue: true });
        const durable = uid('d');
        const q = await f.workQueue(s, durable, { filter: `${p}.>`, ackWaitMs });
        return { s, p, q, durable };
      }
      const data = (items: WorkItem[]) => items.map((i) => dec(i.data));
      /** Fetches `n` items (they are there, or come soon). */
      async function take(q: WorkQueue, n: number): Promise<WorkItem[]> {
        const out: WorkItem[] = [];
        for await (const i of q.fetch(n, { expiresMs: 5_000 })) out.push(i);
        return out;
      }
      /** A fetch that must end empty at its expiry: time has to pass (a virtual clock waits for it). */
      async function fetchesNothing(q: WorkQueue): Promise<void> {
        const out: WorkItem[] = [];
        const done = (async () => {
          for await (const i of q.fetch(5, { expiresMs: 1_000 })) out.push(i);
        })();
        await h.pass(1_100);
        await done;
        expect(data(out)).toEqual([]);
      }

      it('fetches up to n in order; acked items leave a work-queue stream and never come back', async () => {
        const { s, p, q } = await queue();
        for (const x of ['1', '2', '3']) await f.publish(`${p}.t`, enc(x));
        const first = await take(q, 2);
        expect(data(first)).toEqual(['1', '2']);
        expect(first.map((i) => i.deliveryCount)).toEqual([1, 1]);
        expect(await q.info()).toEqual({ pending: 1, ackPending: 2 });
        for (const i of first) i.ack();
        const rest = await take(q, 1);
        expect(data(rest)).toEqual(['3']);
        rest[0]!.ack();
        await eventually(async () => expect(await q.info()).toEqual({ pending: 0, ackPending: 0 }));
        await eventually(async () => expect(await f.readLast(s, `${p}.>`)).toBeNull());
        await h.pass(1_500);
        await fetchesNothing(q);
      });

      it('a fetch yields items as they come, and ends at its expiry with what it had', async () => {
        const { p, q } = await queue(10_000);
        const got: WorkItem[] = [];
        const done = (async () => {
          for await (const i of q.fetch(3, { expiresMs: 1_500 })) got.push(i);
        })();
        await new Promise((r) => setTimeout(r, 30));
        await f.publish(`${p}.t`, enc('late'));
        await eventually(() => expect(data(got)).toEqual(['late']));
        await h.pass(1_600);
        await done;
        expect(data(got)).toEqual(['late']);
        got[0]!.ack();
        await fetchesNothing(q);
      });

      it('redelivers an unacked item after the ack wait with a higher delivery count; working() holds it', async () => {
        const { p, q } = await queue(3_000);
        await f.publish(`${p}.t`, enc('job'));
        const [a] = await take(q, 1);
        expect(a!.deliveryCount).toBe(1);
        await h.pass(1_000);
        a!.working();
        await h.pass(1_000);
        await fetchesNothing(q); // 3.1 s after the delivery, 2.1 s after working()
        await h.pass(1_000);
        const [b] = await take(q, 1);
        expect(b && { d: dec(b.data), n: b.deliveryCount }).toEqual({ d: 'job', n: 2 });
        b!.ack();
      });

      it('a nak redelivers after its delay; a term never again', async () => {
        const { p, q } = await queue(10_000);
        await f.publish(`${p}.t`, enc('n'));
        await f.publish(`${p}.t`, enc('t'));
        const [n, t] = await take(q, 2);
        t!.term();
        n!.nak(2_000);
        await fetchesNothing(q);
        await h.pass(1_000);
        const again = await take(q, 1);
        expect(again.map((i) => [dec(i.data), i.deliveryCount])).toEqual([['n', 2]]);
        again[0]!.nak();
        const third = await take(q, 1);
        expect(third.map((i) => [dec(i.data), i.deliveryCount])).toEqual([['n', 3]]);
        third[0]!.ack();
        await fetchesNothing(q);
      });

      it('gives each item to one fetcher at a time, across connections sharing the durable', async () => {
        const { s, p, q, durable } = await queue(10_000);
        const other = await h.connect();
        const q2 = await other.workQueue(s, durable, { filter: `${p}.>`, ackWaitMs: 10_000 });
        for (let i = 0; i < 6; i++) await f.publish(`${p}.t`, enc(String(i)));
        const [a, b] = await Promise.all([take(q, 3), take(q2, 3)]);
        expect([...data(a), ...data(b)].sort()).toEqual(['0', '1', '2', '3', '4', '5']);
        for (const i of [...a, ...b]) i.ack();
        await other.close();
      });

      it('closing a connection ends its open fetches; the item goes to a live fetcher', async () => {
        const { s, p, durable } = await queue(10_000);
        const c = await h.connect();
        const cq = await c.workQueue(s, durable, { filter: `${p}.>`, ackWaitMs: 10_000 });
        const got: WorkItem[] = [];
        const open = (async () => {
          for await (const i of cq.fetch(1, { expiresMs: 20_000 })) got.push(i);
        })().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
        await c.close();
        await open;
        expect(got).toEqual([]);
        const q = await f.workQueue(s, durable, { filter: `${p}.>`, ackWaitMs: 10_000 });
        await f.publish(`${p}.t`, enc('x'));
        const [x] = await take(q, 1);
        expect(x && [dec(x.data), x.deliveryCount]).toEqual(['x', 1]);
        x!.ack();
      });

      it('aborting a fetch ends it', async () => {
        const { q } = await queue();
        const ac = new AbortController();
        const got: WorkItem[] = [];
        const open = (async () => {
          for await (const i of q.fetch(1, { expiresMs: 20_000, signal: ac.signal })) got.push(i);
        })();
        await new Promise((r) => setTimeout(r, 50));
        ac.abort();
        await open;
        expect(got).toEqual([]);
      });

      it('lists the durable consumers of a stream with their counts', async () => {
        const { s, p, q, durable } = await queue(10_000);
        await f.publish(`${p}.t`, enc('1'));
        await f.publish(`${p}.t`, enc('2'));
        const [one] = await take(q, 1);
        await eventually(async () => expect(await f.workQueues(s)).toEqual([{ name: durable, pending: 1, ackPending: 1, redelivered: 0 }]));
        one!.ack();
      });

      it('counts the items delivered again and not yet settled', async () => {
        const { s, p, q, durable } = await queue(10_000);
        await f.publish(`${p}.t`, enc('1'));
        const [first] = await take(q, 1);
        first!.nak();
        const [again] = await take(q, 1);
        expect(again!.deliveryCount).toBe(2);
        await eventually(async () => expect(await f.workQueues(s)).toEqual([{ name: durable, pending: 0, ackPending: 1, redelivered: 1 }]));
        again!.ack();
      });
    });

    describe('connections', () => {
      it('is connected and answers a ping', async () => {
        expect(f.isConnected()).toBe(true);
        expect(await f.ping(2_000)).toBeGreaterThanOrEqual(0);
        expect(f.maxPayload).toBeGreaterThanOrEqual(1024 * 1024);
        const kv = await f.kv(uid('b'), { timeoutMs: 2_000 });
        expect(await kv.get('x')).toBeNull();
      });

      it('a closed connection fails with connection; others go on', async () => {
        const { s, p } = await stream();
        const c = await h.connect();
        await c.close();
        expect(c.isConnected()).toBe(false);
        expect(await codeOf(c.publish(`${p}.x`, enc('x')))).toBe('connection');
        expect(await codeOf(c.ping())).toBe('connection');
        expect((await f.publish(`${p}.x`, enc('x'))).seq).toBe(1);
        expect((await f.readLast(s, `${p}.x`))?.seq).toBe(1);
      });
    });
  });
}
