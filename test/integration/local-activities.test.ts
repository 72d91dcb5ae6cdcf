/**
 * Local activity dispatch under crashes: activities run in the worker that holds their instance's
 * partition, with no work item in the queue. A worker SIGKILLed while they run must not lose them,
 * also once its lease renewals have moved the checkpoint past the events that scheduled them (the
 * checkpoint lists them as owed and the next owner publishes them as work items).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DurableClient } from '../../src/index.js';
import { decodeJson } from '../../src/core/codec.js';
import { connectHub } from '../../src/store/nats-hub.js';
import type { LeaseValue } from '../../src/worker/lease-manager.js';
import { useServerAndWorkers } from '../helpers/worker-env.js';

const LEASE_MS = 1500;
const env = useServerAndWorkers(LEASE_MS);
const dir = mkdtempSync(join(tmpdir(), 'dn-local-act-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `instance worker` lines of every execution so far. */
function runs(log: string): Array<[string, string]> {
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ') as [string, string]);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('local activity dispatch', () => {
  it('activities running locally on a SIGKILLed worker run again on the next owner, after renewals moved the checkpoint past them', async () => {
    const hub = 'local-crash';
    const log = join(dir, 'runs-crash.log');
    const a = await env.spawn(hub, 'a', { HOLD_ACTIVITIES: '1', RUN_LOG: log });
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => client.startNew('heldStep', { instanceId: `held-${i}` })));
    await until('every activity running on a', () => runs(log).length === ids.length, 20_000);
    expect(new Set(runs(log).map(([id]) => id)).size).toBe(ids.length);

    // Renewals carry the checkpoint: wait until the persisted ones list every held activity as owed
    // (their events are then behind `ev`, where the scan-from-checkpoint recovery no longer looks).
    const nats = await connectHub(env.server().url, 'local-activities-test', { hub });
    const owedCount = async () => {
      let n = 0;
      for (const key of await nats.hub.kv.leases.keys('p.*')) {
        const e = await nats.hub.kv.leases.get(key);
        const lease = e ? decodeJson<LeaseValue>(e.value) : undefined;
        for (const o of lease?.cp.owed ?? []) {
          expect(o.q).toBeLessThanOrEqual(lease!.cp.ev);
          n += o.x.length;
        }
      }
      return n;
    };
    await until('checkpoints listing every held activity as owed', async () => (await owedCount()) === ids.length, 10_000);
    // Nothing went through the queue: the work items exist only inside the events.
    const queued = await nats.hub.fabric.streamInfo(nats.hub.names.activityStream);
    expect(queued.lastSeq).toBe(0);
    await a.kill('SIGKILL');

    await env.spawn(hub, 'b', { RUN_LOG: log });
    const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 30_000 })));
    expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
    expect(done.map((s) => s.output)).toEqual(ids.map(() => 'ran on b'));
    // Once on each worker; b ran the items the checkpoints handed on (from the queue).
    const perInstance = new Map<string, string[]>();
    for (const [id, worker] of runs(log)) perInstance.set(id, [...(perInstance.get(id) ?? []), worker]);
    for (const id of ids) expect(perInstance.get(id)).toEqual(['a', 'b']);
    for (const id of ids) {
      const history = (await client.readHistory(id)) as Array<{ type: string }>;
      expect(history.filter((e) => e.type === 'TaskCompleted')).toHaveLength(1);
    }
    // The results are durable in history: the checkpoints owe nothing any more.
    await until('checkpoints owing nothing', async () => (await owedCount()) === 0, 10_000);
    await nats.close();
    await client.close();
  }, 90_000);

  it('with localActivityBacklog 0 every activity goes through the queue', async () => {
    const hub = 'local-off';
    const log = join(dir, 'runs-off.log');
    await env.spawn(hub, 'q', { RUN_LOG: log, LOCAL_ACTIVITY_BACKLOG: '0' });
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => client.startNew('heldStep', { instanceId: `queued-${i}` })));
    const done = await Promise.all(ids.map((id) => client.waitForCompletion(id, { timeoutMs: 20_000 })));
    expect(done.map((s) => s.output)).toEqual(ids.map(() => 'ran on q'));
    const nats = await connectHub(env.server().url, 'local-activities-test', { hub });
    expect((await nats.hub.fabric.streamInfo(nats.hub.names.activityStream)).lastSeq).toBe(ids.length);
    await nats.close();
    await client.close();
  }, 60_000);
});
