/**
 * InboxReader backpressure over the NATS fabric's follow (src/store/nats-follow.ts holds the stall
 * watchdog): a reader paused because the batch loop is slow (full buffer) is not a stalled reader.
 * Injected: buffer of 10, stall detection of the follow at 300 ms, 50 messages, nothing consumed
 * for 1.5 s. Checked: no follow replacement is logged while paused, and after the loop resumes
 * every message arrives exactly once, in order.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeJson } from '../../src/core/codec.js';
import { inboxSubject } from '../../src/core/topology.js';
import { openHub } from '../../src/store/nats-hub.js';
import { LeanPublisher } from '../../src/store/lean-publisher.js';
import { NatsFabric } from '../../src/store/nats-fabric.js';
import { InboxReader } from '../../src/worker/inbox-reader.js';
import { startNatsServer, type TestServer } from '../helpers/nats-server.js';

let server: TestServer;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

it('does not take a reader paused by a full buffer for a stalled one, and loses nothing', async () => {
  const hub = await openHub(nc, { hub: 'reader-backpressure', partitions: 1 });
  const publisher = new LeanPublisher(nc);
  for (let i = 0; i < 50; i++) await publisher.publish(inboxSubject(hub.names.hub, 0, 'e.tally.k'), encodeJson({ op: 'add', input: i }));
  publisher.close();
  const warnings: string[] = [];
  const logger = pino(
    { level: 'warn' },
    {
      write: (line: string) => {
        warnings.push(JSON.parse(line).msg);
      },
    },
  );
  const fabric = await NatsFabric.on(nc, { logger, followStallMs: 300 });
  const reader = new InboxReader({ hub: { ...hub, fabric }, partition: 0, logger, onMessages: () => undefined, maxBuffer: 10 });
  await reader.start(0);
  try {
    await new Promise((r) => setTimeout(r, 1_500)); // the batch loop is "busy": nothing consumed
    expect(reader.size).toBe(10);
    expect(warnings.filter((w) => /stalled/.test(w))).toEqual([]);
    const seqs: number[] = [];
    const deadline = Date.now() + 10_000;
    while (seqs.length < 50 && Date.now() < deadline) {
      const batch = reader.peek(4);
      seqs.push(...batch.map((m) => m.seq));
      reader.consumed(batch.length);
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => seqs[0]! + i));
    expect(warnings.filter((w) => /stalled/.test(w))).toEqual([]);
  } finally {
    reader.stop();
    await fabric.close();
  }
});
