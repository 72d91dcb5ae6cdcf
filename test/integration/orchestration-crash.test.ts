/**
 * Orchestration crash tests: worker processes SIGKILLed while hundreds of instances (chains,
 * fan-outs, durable timers) are in flight. Every instance must complete with the right output,
 * and no task may have its result applied twice (at most one completion per task id in history).
 */
import { describe, expect, it } from 'vitest';
import { DurableClient } from '../../src/index.js';
import { expectedTotalBytes } from '../../orchestrations/fan-out-fan-in.js';
import { useServerAndWorkers } from '../helpers/worker-env.js';

const env = useServerAndWorkers(1500);
const spawnWorker = env.spawn;

describe('orchestrations survive worker crashes', () => {
  it('chains, fan-outs and timers all complete exactly once across two SIGKILLs', async () => {
    const hub = 'orch-crash';
    let worker = await spawnWorker(hub, 'a');
    const client = await DurableClient.connect({ servers: env.server().url, hub });
    const chains = await Promise.all(Array.from({ length: 200 }, (_, i) => client.startNew('helloSequence', { instanceId: `chain-${i}` })));
    const fans = await Promise.all(Array.from({ length: 20 }, (_, i) => client.startNew('fanOutFanIn', { instanceId: `fan-${i}`, input: { count: 100 + i } })));
    const timers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.startNew('approvalWorkflow', { instanceId: `timer-${i}`, input: { requestId: `r${i}`, timeoutMs: 1500 + i * 50 } })),
    );
    await new Promise((r) => setTimeout(r, 150));
    await worker.kill('SIGKILL');
    worker = await spawnWorker(hub, 'b');
    await new Promise((r) => setTimeout(r, 700));
    await worker.kill('SIGKILL');
    worker = await spawnWorker(hub, 'c');

    const all = await Promise.all([...chains, ...fans, ...timers].map((id) => client.waitForCompletion(id, { timeoutMs: 90_000 })));
    const notCompleted = all.filter((s) => s.runtimeStatus !== 'Completed').map((s) => `${s.instanceId}:${s.runtimeStatus}`);
    expect(notCompleted).toEqual([]);
    for (const s of all.slice(0, chains.length)) expect(s.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    all.slice(chains.length, chains.length + fans.length).forEach((s, i) => expect(s.output).toEqual({ files: 100 + i, totalBytes: expectedTotalBytes(100 + i) }));
    for (const s of all.slice(chains.length + fans.length)) expect(s.output).toMatchObject({ outcome: 'escalated' });

    // Exactly-once application of results: one completion per task id in each history.
    for (const id of [...chains.slice(0, 50), ...fans, ...timers]) {
      const history = (await client.readHistory(id)) as Array<{ type: string; taskId?: number; timerId?: number }>;
      const completions = history.filter((e) => e.type === 'TaskCompleted' || e.type === 'TaskFailed').map((e) => e.taskId);
      expect(new Set(completions).size).toBe(completions.length);
      const scheduled = history.filter((e) => e.type === 'TaskScheduled').length;
      expect(completions.length).toBe(scheduled);
      const fired = history.filter((e) => e.type === 'TimerFired').map((e) => e.timerId);
      expect(new Set(fired).size).toBe(fired.length);
    }
    await client.close();
  }, 180_000);
});
