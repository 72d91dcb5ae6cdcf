/**
 * Many workers on one hub (one NATS server, real worker processes, LEASE_MS 1500):
 *
 * 1. Scale out and in. Injected: workers join one at a time (1 -> 4), then one is SIGKILLed.
 *    Checked (through the lease bucket `p.<n>` = { owner }): after each join the 16 partitions are
 *    spread evenly (partition p on sorted(live)[p % n]) within seconds; after the kill the dead
 *    worker's partitions move to the survivors (6/5/5) within leaseMs + a few seconds; signals sent
 *    throughout end with exact totals.
 * 2. Chaos. Injected: with 3 workers, a random worker is SIGKILLed every ~3 s and a fresh one
 *    started, while 20,000 entity signals (1,000/s) and four waves of 20 helloSequence + 3
 *    fanOutFanIn (40..42 activities each) flow. Checked: exact counter totals; every instance Completed with the right output
 *    (the fan-out byte sums are exact); in every history one completion per scheduled task (each
 *    activity result applied once, even when the activity ran twice).
 */
import { describe, expect, it } from 'vitest';
import { DurableClient } from '../../src/index.js';
import type { WorkerProcess } from '../helpers/processes.js';
import { useServerAndWorkers } from '../helpers/worker-env.js';
import { countOwners, leaseOwners, sendSignals, startOrchestrations, waitFor, wrongOrchestrations, wrongTotals } from '../helpers/nats-cluster.js';

const LEASE_MS = 1_500;
const env = useServerAndWorkers(LEASE_MS);
const spawnWorker = (hub: string, id: string) => env.spawn(hub, id);

/** The owner counts expected when `workers` share 16 partitions by p % n. */
function evenSpread(workers: string[]): Record<string, number> {
  const sorted = [...workers].sort();
  const counts: Record<string, number> = {};
  for (let p = 0; p < 16; p++) counts[sorted[p % sorted.length]!] = (counts[sorted[p % sorted.length]!] ?? 0) + 1;
  return counts;
}

const sameCounts = (a: Record<string, number>, b: Record<string, number>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

describe('many workers', () => {
  it("spreads partitions evenly as workers join, and moves a dead worker's share to the survivors", async () => {
    const hub = 'scale-out';
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    const workers: Record<string, WorkerProcess> = {};
    workers.a = await spawnWorker(hub, 'a');
    await waitFor('a to own all 16', async () => sameCounts(countOwners(await leaseOwners(client)), { a: 16 }), 10_000);

    // Signals flow in the background during every move below (paced while partitions move).
    let moving = true;
    const load = sendSignals(client, 'scale', 400, 30_000, async () => {
      if (moving) await new Promise((r) => setTimeout(r, 400));
    });

    const joinTimes: number[] = [];
    for (const id of ['b', 'c', 'd']) {
      const t0 = Date.now();
      workers[id] = await spawnWorker(hub, id);
      const want = evenSpread(Object.keys(workers));
      await waitFor(`even spread over ${Object.keys(workers).join(',')}`, async () => sameCounts(countOwners(await leaseOwners(client)), want), 15_000);
      joinTimes.push(Date.now() - t0);
    }
    // A joiner takes its share within seconds of its launch (process start ~1-2 s, then release
    // by the old owners + acquire + partition start).
    expect(Math.max(...joinTimes)).toBeLessThan(10_000);

    await workers.b!.kill('SIGKILL');
    delete workers.b;
    const t0 = Date.now();
    await waitFor("b's partitions to move to a, c, d", async () => sameCounts(countOwners(await leaseOwners(client)), evenSpread(['a', 'c', 'd'])), 20_000);
    const takeover = Date.now() - t0;
    // Takeover needs b's heartbeat to go stale (leaseMs) and its leases to expire (leaseMs).
    expect(takeover).toBeLessThan(LEASE_MS * 2 + 6_000);
    moving = false;

    const expected = await load;
    expect(await wrongTotals(client, expected)).toEqual([]);
    console.log(`scale-out: join times ${joinTimes.join('/')} ms, takeover after SIGKILL ${takeover} ms`);
    await client.close();
  }, 120_000);

  it('chaos: a random worker of three SIGKILLed every 3 s while signals and orchestrations flow', async () => {
    const hub = 'chaos';
    const live = [await spawnWorker(hub, 'w0'), await spawnWorker(hub, 'w1'), await spawnWorker(hub, 'w2')];
    const client = await DurableClient.connect({ servers: env.server().url, hub });

    let kills = 0;
    let chaos = true;
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const killer = (async () => {
      while (chaos) {
        await new Promise((r) => setTimeout(r, 2_500 + random() * 1_000));
        if (!chaos) break;
        const i = Math.floor(random() * live.length);
        await live[i]!.kill('SIGKILL');
        kills++;
        live[i] = await spawnWorker(hub, `w${kills + 2}`);
      }
    })();

    // Traffic paced over ~20 s so that every kill lands in the middle of it: 1,000 signals a
    // second, and a wave of 20 chains + 3 fan-outs every 5,000 signals.
    const waves: Array<{ chains: string[]; fans: string[] }> = [await startOrchestrations(client, 'wave0', 20, 3)];
    const expected = await sendSignals(client, 'chaos', 300, 20_000, async (sent) => {
      if (sent % 5_000 === 0 && sent < 20_000) waves.push(await startOrchestrations(client, `wave${sent / 5_000}`, 20, 3));
      await new Promise((r) => setTimeout(r, 1_000));
    });
    // Keep killing until at least 5 kills happened, then let the survivors finish.
    await waitFor('five kills', async () => kills >= 5, 60_000, 250);
    chaos = false;
    await killer;

    expect(await wrongTotals(client, expected)).toEqual([]);
    expect(waves.length).toBe(4);
    const problems: string[] = [];
    for (const wave of waves) problems.push(...(await wrongOrchestrations(client, wave)));
    expect(problems).toEqual([]);
    console.log(`chaos: ${kills} worker kills`);
    await client.close();
  }, 180_000);
});
