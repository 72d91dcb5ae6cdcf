/**
 * InboxReader on the memory fabric (no server): the partition's inbox in order, each message once,
 * the bounded buffer pausing the follow when full and releasing it once half drained, message ids
 * and trace context taken from the headers.
 */
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { encodeJson } from '../../../src/core/codec.js';
import { hubNames, inboxSubject } from '../../../src/core/topology.js';
import type { Hub } from '../../../src/store/hub.js';
import { MemoryFabric } from '../../../src/testing/memory-fabric.js';
import { InboxReader } from '../../../src/worker/inbox-reader.js';

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

it('buffers the inbox in order up to its bound, resumes as the batch loop drains, and reads ids and trace context', async () => {
  const fabric = new MemoryFabric();
  const names = hubNames('mem-reader');
  await fabric.ensureStream({ name: names.inboxStream, subjects: [`${names.hub}.in.>`] });
  const hub = { names, fabric } as unknown as Hub;
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  await fabric.publish(inboxSubject(names.hub, 1, 'e.tally.other'), encodeJson({ op: 'add', input: -1 })); // another partition
  for (let i = 0; i < 30; i++) {
    await fabric.publish(inboxSubject(names.hub, 0, 'e.tally.k'), encodeJson({ op: 'add', input: i }), i === 0 ? { msgId: 'first', headers: { traceparent } } : {});
  }
  let kicks = 0;
  const reader = new InboxReader({ hub, partition: 0, logger: pino({ level: 'silent' }), onMessages: () => kicks++, maxBuffer: 10 });
  await reader.start(0);
  try {
    await until(() => reader.size === 10);
    await new Promise((r) => setTimeout(r, 20));
    expect(reader.size).toBe(10); // paused by the full buffer
    const first = reader.peek(1)[0]!;
    expect(first).toMatchObject({ seq: 2, actorToken: 'e.tally.k', msgId: 'first', trace: { traceparent } });
    expect(reader.peek(2)[1]!.msgId).toBeUndefined();
    const seqs = reader.peek(4).map((m) => m.seq);
    reader.consumed(4);
    await new Promise((r) => setTimeout(r, 20));
    expect(reader.size).toBe(6); // still at half or more: not released
    seqs.push(...reader.peek(6).map((m) => m.seq));
    reader.consumed(6);
    while (seqs.length < 30) {
      await until(() => reader.size > 0);
      const batch = reader.peek(3);
      seqs.push(...batch.map((m) => m.seq));
      reader.consumed(batch.length);
    }
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    expect(kicks).toBe(30);
  } finally {
    reader.stop();
    await fabric.close();
  }
});

it('bounds the buffer in bytes too: large messages (signal batches) pause the follow before the count bound', async () => {
  const fabric = new MemoryFabric();
  const names = hubNames('mem-reader-bytes');
  await fabric.ensureStream({ name: names.inboxStream, subjects: [`${names.hub}.in.>`] });
  const hub = { names, fabric } as unknown as Hub;
  const big = encodeJson({ b: Array.from({ length: 200 }, (_, i) => ({ op: 'add', input: i })) }); // ~4 KB
  for (let i = 0; i < 20; i++) await fabric.publish(inboxSubject(names.hub, 0, 'e.tally.k'), big);
  const reader = new InboxReader({ hub, partition: 0, logger: pino({ level: 'silent' }), onMessages: () => undefined, maxBuffer: 1_000, maxBufferBytes: big.length * 4 });
  await reader.start(0);
  try {
    await until(() => reader.size === 4);
    await new Promise((r) => setTimeout(r, 20));
    expect(reader.size).toBe(4); // paused by bytes, far below the count bound
    reader.consumed(3); // below half of the bytes: released
    await until(() => reader.size === 4);
    let read = 3;
    while (read < 20) {
      await until(() => reader.size > 0);
      const n = reader.size;
      reader.consumed(n);
      read += n;
    }
    expect(read).toBe(20);
  } finally {
    reader.stop();
    await fabric.close();
  }
});
