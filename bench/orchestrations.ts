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

/** p50/p99 ms of `count` sequential `n`-activity chains (start + wait for completion). */
export function chainLatency(client: DurableClient, n: number, count: number): Promise<{ p50: number; p99: number }> {
  return sequentialLatency(count, () => run(client, 'chain', { n }));
}

/** 3-activity chains completed per second with 64 concurrent clients (start + wait each). */
export async function chains64(client: DurableClient, count: number): Promise<number> {
  const t0 = performance.now();
  await pipelined(count, 64, () => run(client, 'chain', { n: 3 }));
  return count / ((performance.now() - t0) / 1000);
}

/** ms of one fan-out/fan-in of `n` activities. */
export async function fanOut(client: DurableClient, n: number): Promise<number> {
  const t0 = performance.now();
  const s = await run(client, 'fanOutFanIn', { count: n });
  if ((s.output as { files: number }).files !== n) throw new Error(`fan-out returned ${JSON.stringify(s.output)}`);
  return performance.now() - t0;
}

/** The orchestration figures measured once (the paired ones are measured by run.ts with chainLatency, chains64, fanOut). */
export async function otherOrchestrationFigures(client: DurableClient, quick: boolean): Promise<Omit<OrchestrationFigures, 'chain3Ms' | 'chains64PerSec'>> {
  await run(client, 'chain', { n: 3 }); // warm up
  const chain5Ms = await chainLatency(client, 5, quick ? 50 : 200);
  const count = quick ? 300 : 1000;
  const t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: count }, () => client.startNew('helloSequence')));
  await pipelined(ids.length, 256, (i) => client.waitForCompletion(ids[i]!, { timeoutMs: 300_000 }));
  const helloPerSec = count / ((performance.now() - t0) / 1000);
  const fanOutMs: Record<string, number> = {};
  if (!quick) fanOutMs['10000'] = await fanOut(client, 10_000);
  return { chain5Ms, helloPerSec, fanOutMs, ...(await eventsAndTimers(client, quick)) };
}

async function eventsAndTimers(client: DurableClient, quick: boolean): Promise<Pick<OrchestrationFigures, 'eventToResumeMs' | 'timerLagMs'>> {
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
  return { eventToResumeMs: { p50: ev.p50, p99: ev.p99 }, timerLagMs: { p50: lag.p50, p99: lag.p99 } };
}
