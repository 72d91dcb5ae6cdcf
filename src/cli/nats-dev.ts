/**
 * `durable-nats dev`'s NATS: use the server at the URL if one answers, else start a local
 * nats-server with the repository's nats.conf and a store in ./.nats-data.
 * Invariant: only a server this process started is stopped by it (by its own pid).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DurableError } from '../core/errors.js';

export interface DevNats {
  url: string;
  /** Set when this process started the server. */
  pid?: number;
  stop(): Promise<void>;
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url.includes('://') ? url : `nats://${url}`);
  return { host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 4222 };
}

function answers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((res) => {
    const s = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The directory of this package (where nats.conf is), found from this file. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'durable-nats') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the durable-nats package root');
    dir = up;
  }
}

export async function ensureNats(url: string, log: (m: string) => void): Promise<DevNats> {
  const { host, port } = hostPort(url);
  if (await answers(host, port)) {
    log(`using NATS at ${url}`);
    return { url, async stop() {} };
  }
  const storeDir = resolve(process.cwd(), '.nats-data');
  const args = ['-c', join(packageRoot(), 'nats.conf'), '-sd', storeDir, '-p', String(port)];
  const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
  const child: ChildProcess = spawn(bin, args, { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (e) => reject(new DurableError('connection', `no NATS at ${url} and cannot run ${bin}: ${e.message} (install nats-server or set NATS_URL)`))),
  );
  failed.catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([answers(host, port), failed]))) {
    if (child.exitCode !== null) throw new DurableError('connection', `${bin} exited with code ${child.exitCode} (is port ${port} free?)`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new DurableError('connection', `${bin} did not listen on ${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`started ${bin} ${args.join(' ')} (pid ${child.pid})`);
  return {
    url: `nats://${host}:${port}`,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    },
  };
}
