/**
 * Micro-benchmark of the pure entity executor (no I/O): CPU µs per operation (process.cpuUsage: robust to other load) for batches of counter
 * `add` signals, as the worker runs them on a hot entity. Run: node dist/bench/executor-micro.js
 */
import { counter } from '../entities/counter.js';
import { EntityId } from '../src/core/entity-id.js';
import { executeEntityBatch, newSnapshot } from '../src/entity/executor.js';
import type { InboxEntityMessage } from '../src/entity/messages.js';

const id = new EntityId('counter', 'micro');
const BATCH = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 2_000);
let snap = newSnapshot(counter);
let seq = 0;
const batch = (): InboxEntityMessage[] => Array.from({ length: BATCH }, () => ({ seq: ++seq, body: { op: 'add', input: 1 } }));
const results: number[] = [];
for (let r = 0; r < 5; r++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < ROUNDS / 5; i++) {
    const res = await executeEntityBatch(counter, id, snap, batch(), (s, n) => `${s}:${n}`, { now: 0 });
    snap = res.snapshot;
  }
  const c = process.cpuUsage(c0);
  results.push((c.user + c.system) / ((ROUNDS / 5) * BATCH));
}
results.sort((a, b) => a - b);
console.log(`executor: ${results[2]!.toFixed(3)} us of CPU/op (median of 5 rounds; batch ${BATCH}; state ${JSON.stringify(snap.state)})`);
