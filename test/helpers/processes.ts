/**
 * Worker processes for crash tests: spawn (tsx), wait for 'ready', kill by PID. When this module
 * runs compiled (dist/test/helpers/processes.js: the benchmark), the worker runs compiled too
 * (dist/<script>.js, plain node, no tsx loader: its CPU and memory are the worker's own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** True when this file is the compiled one under dist/. */
const COMPILED = import.meta.url.endsWith('.js');
/** Where `script` paths resolve from: the repository (sources) or dist/ (compiled). */
const BASE = resolve(import.meta.dirname, '../..');
/** The repository root (the workers' working directory). */
const ROOT = COMPILED ? resolve(BASE, '..') : BASE;

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(env: Record<string, string>, script = 'test/fixtures/worker-process.ts'): Promise<WorkerProcess> {
  const extra = (env.NODE_ARGS ?? process.env.WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const entry = COMPILED ? [resolve(BASE, script.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', resolve(BASE, script)];
  const child = spawn(process.execPath, [...extra, ...entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d.toString()));
  child.stderr!.on('data', (d) => (out += d.toString()));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`worker did not start in 30 s:\n${out}`)), 30_000);
    const check = () => {
      if (out.includes('ready')) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`worker exited with ${code}:\n${out}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid!, signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    },
  };
}
