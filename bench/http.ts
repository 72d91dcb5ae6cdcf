/**
 * HTTP benchmarks: start + complete of a hello orchestration through the HTTP API (POST start,
 * then GET status with waitForCompletion long poll) beside the same through the client, and
 * status reads per second.
 */
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { createHttpServer, type DurableClient } from '../src/index.js';
import { pipelined, sequentialLatency } from './stats.js';

export interface HttpFigures {
  httpStartCompleteMs: { p50: number; p99: number };
  clientStartCompleteMs: { p50: number; p99: number };
  statusReadsPerSec: number;
  statusReadsLoad: string;
}

/** Requests/s that wrk measures against `url` (32 connections, 5 s), or undefined without wrk. */
function wrkRequestsPerSec(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const child = spawn('wrk', ['-t1', '-c32', '-d5s', url]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', () => resolve(undefined));
    child.on('exit', (code) => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      resolve(code === 0 && m && !/Non-2xx/.test(out) ? Number(m[1]) : undefined);
    });
  });
}

export async function httpFigures(client: DurableClient, rounds: number): Promise<HttpFigures> {
  const http = await createHttpServer({ client, port: 0, systemKey: 'bench-key', logger: pino({ level: 'error' }) });
  const headers = { 'x-functions-key': 'bench-key', 'content-type': 'application/json' };
  const base = `${http.url}/runtime/webhooks/durabletask`;
  try {
    const viaHttp = async () => {
      const start = await fetch(`${base}/orchestrators/helloSequence`, { method: 'POST', headers, body: '{}' });
      const { id } = (await start.json()) as { id: string };
      const done = await fetch(`${base}/instances/${id}?waitForCompletion=30s`, { headers });
      if (done.status !== 200) throw new Error(`status ${done.status}`);
      return id;
    };
    const viaClient = async () => {
      const id = await client.startNew('helloSequence');
      await client.waitForCompletion(id, { timeoutMs: 30_000 });
      return id;
    };
    await viaHttp();
    const httpStartCompleteMs = await sequentialLatency(rounds, viaHttp);
    const clientStartCompleteMs = await sequentialLatency(rounds, viaClient);
    const id = await viaHttp();
    // Load from a separate process when wrk is installed (apt-get install wrk): an in-process
    // fetch loop measures itself (it saturated at ~2,000/s with the server 84% idle).
    const wrk = await wrkRequestsPerSec(`${base}/instances/${id}?code=bench-key`);
    if (wrk !== undefined) return { httpStartCompleteMs, clientStartCompleteMs, statusReadsPerSec: wrk, statusReadsLoad: 'wrk -t1 -c32 -d5s' };
    const reads = rounds * 20;
    const t0 = performance.now();
    await pipelined(reads, 32, async () => {
      const res = await fetch(`${base}/instances/${id}`, { headers });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await res.arrayBuffer();
    });
    const statusReadsPerSec = reads / ((performance.now() - t0) / 1000);
    return { httpStartCompleteMs, clientStartCompleteMs, statusReadsPerSec, statusReadsLoad: 'in-process fetch, 32 concurrent' };
  } finally {
    await http.close();
  }
}
