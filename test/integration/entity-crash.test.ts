/**
 * Crash tests: real worker processes SIGKILLed in the middle of tens of thousands of signals.
 * Every entity's final value must equal exactly the sum of what was sent to it: nothing lost,
 * nothing applied twice.
 */
import { describe, expect, it } from 'vitest';
import { DurableClient, EntityId } from '../../src/index.js';
import { useServerAndWorkers } from '../helpers/worker-env.js';
import { sendSignals, wrongTotals } from '../helpers/nats-cluster.js';

const env = useServerAndWorkers(1500);
const spawnWorker = env.spawn;

/** Plain signals (no idempotency key): exactly-once must come from the runtime alone. */
const send = (client: DurableClient, entities: number, total: number, onProgress: (sent: number) => Promise<void> = async () => undefined) =>
  sendSignals(client, null, entities, total, onProgress);

async function expectTotals(client: DurableClient, expected: Map<string, number>) {
  expect(await wrongTotals(client, expected)).toEqual([]);
}

describe('crash survival', () => {
  it('SIGKILL of the only worker mid-stream: a new worker finishes with exact totals', async () => {
    const hub = 'crash-one';
    let worker = await spawnWorker(hub, 'a');
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    let kills = 0;
    const expected = await send(client, 500, 30_000, async (sent) => {
      if (sent === 8_000 || sent === 20_000) {
        await worker.kill('SIGKILL');
        kills++;
        worker = await spawnWorker(hub, `b${kills}`);
      }
    });
    expect(kills).toBe(2);
    await expectTotals(client, expected);
    await client.close();
  }, 180_000);

  it('two workers in two processes, one killed and restarted repeatedly: never a double apply', async () => {
    const hub = 'crash-two';
    const a = await spawnWorker(hub, 'a');
    let b = await spawnWorker(hub, 'b');
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    let kills = 0;
    const expected = await send(client, 1_000, 30_000, async (sent) => {
      if (sent % 6_000 === 0) {
        await b.kill('SIGKILL');
        kills++;
        b = await spawnWorker(hub, `b${kills}`);
      }
    });
    expect(kills).toBeGreaterThanOrEqual(4);
    await expectTotals(client, expected);
    await a.kill('SIGTERM');
    await client.close();
  }, 180_000);

  it('full restart of everything (workers and NATS server) keeps all state', async () => {
    const hub = 'crash-full';
    let worker = await spawnWorker(hub, 'a');
    let client = await DurableClient.connect({ servers: env.server().url, hub });
    const expected = await send(client, 100, 5_000, async () => undefined);
    await expectTotals(client, expected);
    await client.close();
    await worker.kill('SIGKILL');
    await env.server().restart();
    worker = await spawnWorker(hub, 'after-restart');
    client = await DurableClient.connect({ servers: env.server().url, hub });
    for (const [k, v] of expected) expect((await client.readEntityState<{ value: number }>(new EntityId('counter', k))).state?.value).toBe(v);
    await client.signalEntity(new EntityId('counter', 'k0'), 'add', 1);
    expect(await client.callEntity(new EntityId('counter', 'k0'), 'get')).toBe(expected.get('k0')! + 1);
    await client.close();
  }, 180_000);
});
