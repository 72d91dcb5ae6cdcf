/**
 * CPU time of the processes under test, from /proc/<pid>/stat (utime + stime, in clock ticks),
 * read before and after a measured run: where the time goes between the client (this process),
 * the worker and the nats-server, and how busy the whole machine was meanwhile (/proc/stat: the
 * part no process of ours used is other load on the machine).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const TICK_MS = (() => {
  try {
    return 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  } catch {
    return 10;
  }
})();

/** utime + stime of a process in ms (0 if it is gone). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Busy ms of all cores together (everything but idle and iowait). */
function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return (total - f[3]! - (f[4] ?? 0)) * TICK_MS;
}

export interface CpuProfile {
  wallMs: number;
  /** CPU ms per named process during the run. */
  cpuMs: Record<string, number>;
  /** CPU ms the machine spent outside the named processes (other load). */
  otherMs: number;
  cores: number;
}

/** Runs `fn` and returns the CPU each of `pids` used meanwhile. */
export async function profileCpu<T>(pids: Record<string, number>, fn: () => Promise<T>): Promise<{ profile: CpuProfile; result: T }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const busy0 = machineBusyMs();
  const t0 = performance.now();
  const result = await fn();
  const wallMs = performance.now() - t0;
  const busy = machineBusyMs() - busy0;
  // A process that exited meanwhile (a restarted worker) counts 0.
  const used = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.max(0, cpuMs(pid) - before[k]!)]));
  const ours = Object.values(used).reduce((a, b) => a + b, 0);
  return { profile: { wallMs, cpuMs: used, otherMs: Math.max(0, busy - ours), cores: cpus().length }, result };
}

/** One line: each process's CPU ms, its share of our CPU, and its % of one core over the run. */
export function formatProfile(p: CpuProfile, perOp?: { ops: number; unit: string }): string {
  const ours = Object.values(p.cpuMs).reduce((a, b) => a + b, 0);
  const parts = Object.entries(p.cpuMs).map(([k, ms]) => {
    const us = perOp ? `, ${((ms * 1000) / perOp.ops).toFixed(1)} µs/${perOp.unit}` : '';
    return `${k} ${Math.round(ms)} ms (${Math.round((100 * ms) / Math.max(1, ours))}% of ours, ${Math.round((100 * ms) / p.wallMs)}% of a core${us})`;
  });
  return `${parts.join('; ')}; other load ${Math.round(p.otherMs)} ms; wall ${Math.round(p.wallMs)} ms on ${p.cores} cores`;
}
