/** Test-file fixtures: a private server plus worker processes (kept apart so bench/ can import processes.ts without vitest). */
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type TestServer } from './nats-server.js';
import { startWorkerProcess, type WorkerProcess } from './processes.js';

/**
 * One private nats-server for the test file and the worker processes started against it, all
 * stopped after the file (workers by SIGKILL, then the server).
 * @example const env = useServerAndWorkers(1500); const w = await env.spawn('hub', 'a');
 */
export function useServerAndWorkers(leaseMs: number): {
  server: () => TestServer;
  spawn: (hub: string, id: string, extra?: Record<string, string>) => Promise<WorkerProcess>;
} {
  let server: TestServer | undefined;
  const procs: WorkerProcess[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await server?.stop();
  });
  return {
    server: () => server!,
    spawn: async (hub, id, extra = {}) => {
      const p = await startWorkerProcess({ NATS_URL: server!.url, HUB: hub, LEASE_MS: String(leaseMs), WORKER_ID: id, ...extra });
      procs.push(p);
      return p;
    },
  };
}
