/**
 * Orchestration benchmarks: chain latency, hello-sequence throughput, fan-out/fan-in, event-to-
 * resume latency, timer lag. Run against a worker process hosting test/fixtures orchestrations.
 */
import type { DurableClient } from '../src/index.js';
import { pipelined, sequentialLatency, summarize } from './stats.js';

export interface OrchestrationFigures {
  chain3Ms: { p50: number; p99: number };
  chain5Ms: { p50: number; p99: number };
  /** 3-activity chains completed per second with 64 concurrent clients (start + wait each). */
  chains64PerSec: number;
  helloPerSec: number;
  fanOutMs: Record<string, number>;
  eventToResumeMs: { p50: number; p99: number };
  timerLagMs: { p50: number; p99: number };
}

const run = async (client: DurableClient, name: string, input?: unknown) => {
  const id = await client.startNew(name, input === undefined ? {} : { input });
  return client.waitForCompletion(id, { timeoutMs: 300_000 });
};

export async function orchestrationFigures(client: DurableClient, quick: boolean): Promise<OrchestrationFigures> {
  await run(client, 'chain', { n: 3 }); // warm up
  const chain3Ms = await sequentialLatency(quick ? 50 : 200, () => run(client, 'chain', { n: 3 }));
  const chain5Ms = await sequentialLatency(quick ? 50 : 200, () => run(client, 'chain', { n: 5 }));

  const chains = quick ? 640 : 3_200;
  let t0 = performance.now();
  await pipelined(chains, 64, () => run(client, 'chain', { n: 3 }));
  const chains64PerSec = chains / ((performance.now() - t0) / 1000);

  const count = quick ? 300 : 1000;
  t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: count }, () => client.startNew('helloSequence')));
  await pipelined(ids.length, 256, (i) => client.waitForCompletion(ids[i]!, { timeoutMs: 300_000 }));
  const helloPerSec = count / ((performance.now() - t0) / 1000);

  const fanOutMs: Record<string, number> = {};
  for (const n of quick ? [1000] : [1000, 10_000]) {
    t0 = performance.now();
    const s = await run(client, 'fanOutFanIn', { count: n });
    if ((s.output as { files: number }).files !== n) throw new Error(`fan-out returned ${JSON.stringify(s.output)}`);
    fanOutMs[String(n)] = performance.now() - t0;
  }

  const events: number[] = [];
  for (let i = 0; i < (quick ? 30 : 100); i++) {
    const id = await client.startNew('waitForGo');
    for (let k = 0; k < 200 && (await client.getStatus(id))?.runtimeStatus !== 'Running'; k++) await new Promise((r) => setTimeout(r, 2));
    const t = performance.now();
    await client.raiseEvent(id, 'go', i);
    await client.waitForCompletion(id, { timeoutMs: 30_000 });
    events.push(performance.now() - t);
  }
  const ev = summarize(events);

  const lags: number[] = [];
  const timers = await Promise.all(
    Array.from({ length: quick ? 30 : 100 }, async (_, i) => {
      const fireAt = new Date(Date.now() + 500 + i * 10).toISOString();
      return { fireAt, id: await client.startNew('sleepUntil', { input: { fireAt } }) };
    }),
  );
  for (const t of timers) {
    await client.waitForCompletion(t.id, { timeoutMs: 30_000 });
    const h = (await client.readHistory(t.id)) as Array<{ type: string; timestamp: string }>;
    const fired = h.find((e) => e.type === 'TimerFired');
    if (fired) lags.push(Date.parse(fired.timestamp) - Date.parse(t.fireAt));
  }
  const lag = summarize(lags);
  return { chain3Ms, chain5Ms, chains64PerSec, helloPerSec, fanOutMs, eventToResumeMs: { p50: ev.p50, p99: ev.p99 }, timerLagMs: { p50: lag.p50, p99: lag.p99 } };
}
