/**
 * Starts a private nats-server for one test file: the project's nats.conf, a free loopback port,
 * a temp store dir; stopped by PID. Tests never touch the machine's running server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface TestServer {
  url: string;
  port: number;
  storeDir: string;
  pid: number;
  stop(): Promise<void>;
  /** Kill -9 and start again on the same port and store (server crash). */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((res) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
}

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';
/** The project's nats.conf (from test/helpers, or from dist/test/helpers when compiled for the benchmark). */
const CONF = import.meta.url.endsWith('.js') ? resolve(import.meta.dirname, '../../../nats.conf') : resolve(import.meta.dirname, '../../nats.conf');

export async function startNatsServer(): Promise<TestServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'dn-test-'));
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(NATS_SERVER_BIN, ['-c', CONF, '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
    await waitForPort(port, 10_000);
  };
  await launch();
  const kill = async (signal: NodeJS.Signals) => {
    const c = child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    process.kill(c.pid!, signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return child.pid!;
    },
    async stop() {
      await kill('SIGTERM');
      rmSync(storeDir, { recursive: true, force: true });
    },
    async restart() {
      await kill('SIGKILL');
      await launch();
    },
  };
}
