/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof) by where the self time goes: GC, idle, node
 * internals, each dependency package and each durable-nats source file; then the top functions.
 * Run: node dist/bench/cpuprofile-summary.js <file.cpuprofile> [topFunctions=25]
 * (e.g. after BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=.tmp/prof" npm run bench -- --profile hot).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The bucket a frame's self time is counted in. */
export function category(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (!url) return `native: ${fn || '(anonymous)'}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `dependency ${pkg[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(src\/.+?)\.(?:js|ts)$/.exec(url);
  if (own) return `durable-nats ${own[1]}`;
  return url;
}

export function summarize(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame;
    const c = category(f.url, f.functionName);
    if (c === 'idle') continue;
    cats.set(c, (cats.get(c) ?? 0) + t);
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '')}:${f.lineNumber + 1}`;
    fns.set(name, (fns.get(name) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const lines = [`busy ${Math.round(busy / 1000)} ms of ${Math.round(total / 1000)} ms sampled (self time, % of busy)`];
  for (const [c, t] of [...cats].sort((a, b) => b[1] - a[1]).slice(0, 20)) lines.push(`${pct(t)}  ${c}`);
  lines.push('', 'top functions:');
  for (const [n, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(t)}  ${n}`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('cpuprofile-summary.js') || process.argv[1]?.endsWith('cpuprofile-summary.ts')) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cpuprofile-summary <file.cpuprofile> [top]');
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(process.argv[3] ?? 25)));
}
