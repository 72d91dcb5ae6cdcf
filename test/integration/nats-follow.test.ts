/**
 * The lean follow (src/store/nats-follow.ts) on one nats-server, beyond the fabric contract:
 * - flow control under backpressure: 12 MB (6x the server's ~2 MB push window) read by a callback
 *   that pauses now and then; checked: every message once, in order, and no consumer replaced
 *   (the held flow-control request, not the queue bound, stopped the server);
 * - a consumer deleted under the follow (as when its node dies): its heartbeats stop, a new one
 *   starts after the last message delivered; checked: every message once, in order, before and
 *   after the loss;
 * - the server killed (SIGKILL) and restarted under the follow: the lost connection drops the
 *   consumer, a new one starts once reconnected; checked: every message once, in order.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LeanPublisher } from '../../src/store/lean-publisher.js';
import { NatsFabric } from '../../src/store/nats-fabric.js';
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

function recorder() {
  const warnings: string[] = [];
  const logger = { warn: (_d: object, m: string) => void warnings.push(m), error: (_d: object, m: string) => void warnings.push(m), debug: () => undefined };
  return { warnings, logger };
}

async function until(what: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

it('holds the server with flow control while paused, and loses nothing', async () => {
  const { warnings, logger } = recorder();
  const fabric = await NatsFabric.on(nc, { logger });
  await fabric.ensureStream({ name: 'FOLLOW_FC', subjects: ['ffc.>'] });
  const publisher = new LeanPublisher(nc);
  const payload = new Uint8Array(2_000);
  const n = 6_000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < n) {
        const i = next++;
        await publisher.publish(`ffc.k${i % 7}`, payload, i % 3 === 0 ? { msgId: `m${i}` } : {});
      }
    }),
  );
  publisher.close();
  const seqs: number[] = [];
  const ids: Array<string | undefined> = [];
  const follow = await fabric.follow('FOLLOW_FC', 'ffc.>', 1, (m) => {
    seqs.push(m.seq);
    ids.push(m.headers?.get('Nats-Msg-Id'));
    if (m.seq % 1_500 === 0) return new Promise((r) => setTimeout(r, 300)); // the reader is busy
    return undefined;
  });
  try {
    await until(() => seqs.length >= n, 20_000);
    expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(ids.filter(Boolean).length).toBe(n / 3);
    expect(warnings).toEqual([]);
  } finally {
    follow.stop();
    await fabric.close();
  }
});

it('starts a new consumer after the last message delivered when its consumer disappears', async () => {
  const { warnings, logger } = recorder();
  const fabric = await NatsFabric.on(nc, { logger });
  await fabric.ensureStream({ name: 'FOLLOW_LOST', subjects: ['flost.>'] });
  const seqs: number[] = [];
  const follow = await fabric.follow('FOLLOW_LOST', 'flost.>', 1, (m) => void seqs.push(m.seq));
  try {
    for (let i = 0; i < 20; i++) await fabric.publish('flost.a', new Uint8Array([i]));
    await until(() => seqs.length >= 20, 5_000);
    const jsm = await jetstreamManager(nc);
    for await (const c of jsm.consumers.list('FOLLOW_LOST')) await jsm.consumers.delete('FOLLOW_LOST', c.name);
    for (let i = 20; i < 40; i++) await fabric.publish('flost.a', new Uint8Array([i]));
    await until(() => seqs.length >= 40, 15_000);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(warnings.some((w) => /replaced|stalled/.test(w))).toBe(true);
  } finally {
    follow.stop();
    await fabric.close();
  }
});

it('survives a server restart: a new consumer after the last message delivered, nothing twice', async () => {
  const { warnings, logger } = recorder();
  const fabric = await NatsFabric.on(nc, { logger });
  await fabric.ensureStream({ name: 'FOLLOW_RESTART', subjects: ['frs.>'] });
  const seqs: number[] = [];
  const follow = await fabric.follow('FOLLOW_RESTART', 'frs.>', 1, (m) => void seqs.push(m.seq));
  try {
    for (let i = 0; i < 30; i++) await fabric.publish('frs.a', new Uint8Array([i]));
    await until(() => seqs.length >= 30, 5_000);
    await server.restart();
    await until(() => fabric.isConnected(), 15_000);
    let sent = 30;
    const deadline = Date.now() + 15_000;
    while (sent < 60 && Date.now() < deadline) {
      await fabric.publish('frs.a', new Uint8Array([sent]), { msgId: `r${sent}` }).then(
        () => sent++,
        () => new Promise((r) => setTimeout(r, 200)), // JetStream still starting
      );
    }
    await until(() => seqs.length >= 60, 15_000);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(warnings.some((w) => /replaced/.test(w))).toBe(true);
  } finally {
    follow.stop();
    await fabric.close();
  }
}, 60_000);
