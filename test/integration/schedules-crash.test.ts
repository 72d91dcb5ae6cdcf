/**
 * Schedules and watches under real SIGKILLs of worker processes: every tick fires exactly once
 * whatever the number of workers; ticks missed while no worker ran fire once (the latest) on
 * recovery; a watcher sees every version of an entity, in order, across its owner's deaths.
 */
import { describe, expect, it } from 'vitest';
import { DurableClient, type EntityVersion } from '../../src/index.js';
import type { ScheduleEntityState } from '../../src/worker/schedule-entity.js';
import { useServerAndWorkers } from '../helpers/worker-env.js';
import type { WorkerProcess } from '../helpers/processes.js';

const env = useServerAndWorkers(1500);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The ticks a schedule fired, from its own history: each version that changed lastRun is one firing. */
async function firedTicks(client: DurableClient, id: string): Promise<{ times: number[]; instanceIds: string[] }> {
  const versions = (await client.entityHistory<ScheduleEntityState>(`@dn-schedule@${id}`, { limit: 1000 })).versions;
  const times: number[] = [];
  const instanceIds: string[] = [];
  let last: number | undefined;
  for (const v of versions) {
    const run = v.state?.s?.lastRun;
    if (run && run.time !== last) {
      times.push(run.time);
      if (run.instanceId) instanceIds.push(run.instanceId);
      last = run.time;
    }
  }
  return { times, instanceIds };
}

describe('schedules under SIGKILL', () => {
  it('three workers killed in turn, then all at once: each tick fires once, a missed stretch fires once', async () => {
    const hub = 'sched-crash';
    const workers: WorkerProcess[] = [await env.spawn(hub, 'a'), await env.spawn(hub, 'b'), await env.spawn(hub, 'c')];
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    await client.createSchedule('sig', { every: 500, action: { signalEntity: { id: '@counter@ticks', op: 'add', input: 1 } } });
    await client.createSchedule('run', { every: 1000, overlap: 'allow', action: { startNew: { name: 'helloSequence' } } });

    let n = 0;
    for (let round = 0; round < 5; round++) {
      await sleep(1_500);
      const i = round % 3;
      await workers[i]!.kill('SIGKILL');
      workers[i] = await env.spawn(hub, `r${++n}`);
    }
    // Everything down for a while: several ticks of both schedules are missed.
    for (const w of workers) await w.kill('SIGKILL');
    const downAt = Date.now();
    await sleep(4_000);
    const upAt = Date.now();
    workers[0] = await env.spawn(hub, `r${++n}`);
    workers[1] = await env.spawn(hub, `r${++n}`);
    await sleep(4_000);
    await client.pauseSchedule('sig');
    await client.pauseSchedule('run');
    await sleep(1_000);

    const sig = await firedTicks(client, 'sig');
    const value = await client.callEntity<number>('@counter@ticks', 'get');
    // Exactly once: one add per recorded tick, on the 500 ms grid, strictly increasing.
    expect(value).toBe(sig.times.length);
    const adds = (await client.entityHistory('@counter@ticks', { limit: 1000 })).versions.flatMap((v) => v.operations).filter((o) => o.op === 'add');
    expect(adds).toHaveLength(value);
    for (let i = 1; i < sig.times.length; i++) {
      expect(sig.times[i]! - sig.times[i - 1]!).toBeGreaterThan(0);
      expect((sig.times[i]! - sig.times[0]!) % 500).toBe(0);
    }
    // No burst on recovery: at most one tick of the outage (the latest due when a worker came back).
    const duringOutage = sig.times.filter((t) => t > downAt + 500 && t < upAt);
    expect(duringOutage.length).toBeLessThanOrEqual(1);
    expect(sig.times.filter((t) => t > downAt + 500).length).toBeGreaterThan(0); // it resumed
    expect(sig.times.length).toBeGreaterThan(15);

    const run = await firedTicks(client, 'run');
    expect(new Set(run.instanceIds).size).toBe(run.instanceIds.length);
    for (const id of run.instanceIds) expect(id).toMatch(/^run@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    const started = (await client.listInstances({ pageSize: 1000 })).instances.filter((s) => s.instanceId.startsWith('run@'));
    expect(started.map((s) => s.instanceId).sort()).toEqual([...run.instanceIds].sort());
    for (const id of run.instanceIds) expect((await client.waitForCompletion(id, { timeoutMs: 20_000 })).runtimeStatus).toBe('Completed');
    console.log(`sig: ${sig.times.length} ticks, run: ${run.instanceIds.length} runs, ${n} worker starts`);
    await client.close();
  }, 120_000);

  it('a watcher sees every version in order while its worker is SIGKILLed twice', async () => {
    const hub = 'watch-crash';
    let worker = await env.spawn(hub, 'a');
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    await client.callEntity('@counter@watched', 'add', 1);
    const ac = new AbortController();
    const seen: EntityVersion<{ value: number }>[] = [];
    const total = 1 + 400;
    const watching = (async () => {
      for await (const v of client.watchEntity<{ value: number }>('@counter@watched', { signal: ac.signal })) {
        seen.push(v);
        if (v.state?.value === total) ac.abort();
      }
    })();
    for (let i = 1; i <= 400; i++) {
      await client.signalEntity('@counter@watched', 'add', 1);
      if (i === 120 || i === 280) {
        await worker.kill('SIGKILL');
        worker = await env.spawn(hub, `b${i}`);
      }
    }
    await Promise.race([
      watching,
      sleep(30_000).then(() => {
        throw new Error(`watch saw ${seen.length} versions, last ${JSON.stringify(seen.at(-1))}`);
      }),
    ]);
    const history = (await client.entityHistory<{ value: number }>('@counter@watched', { limit: 1000 })).versions;
    const from = seen[0]!.version;
    const expected = history.filter((v) => v.version >= from);
    expect(seen.map((v) => v.version)).toEqual(expected.map((v) => v.version));
    expect(seen.map((v) => v.state?.value)).toEqual(expected.map((v) => v.state?.value));
    expect(seen.at(-1)!.state!.value).toBe(total);
    console.log(`watch: ${seen.length} versions seen`);
    await client.close();
  }, 120_000);
});
