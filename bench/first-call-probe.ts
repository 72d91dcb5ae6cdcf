/** Probe (not part of npm run bench): where the first call to a big entity on a fresh worker spends its time. */
import { connect } from '@nats-io/transport-node';
import { entityPartition } from '../src/core/topology.js';
import { DurableClient, EntityId } from '../src/index.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { startWorkerProcess } from '../test/helpers/processes.js';
import { RawBench } from './baseline.js';
import { signalThroughput } from './entities.js';

const OPS = Number(process.argv[2] ?? 200_000);
const server = await startNatsServer();
const nc = await connect({ servers: server.url });
const raw = await RawBench.create(nc);
const env = { NATS_URL: server.url, HUB: 'bench', LEASE_MS: '4000', LOG_LEVEL: 'error', NODE_ARGS: process.env.PROBE_NODE_ARGS ?? '' };
let worker = await startWorkerProcess({ ...env, WORKER_ID: 'p0' });
const client = await DurableClient.connect({ servers: server.url, hub: 'bench' });
const P = client.hub.config.partitions;
const big = new EntityId('counter', 'million');
const pBig = entityPartition(big, P);
const same: string[] = [];
const other: string[] = [];
for (let i = 0; same.length < 6 || other.length < 6; i++) {
  const id = new EntityId('counter', `small-${i}`);
  (entityPartition(id, P) === pBig ? same : other).push(id.key);
}
await signalThroughput(client, () => 'million', OPS, ['million']);
for (const k of [...same, ...other]) await client.callEntity(new EntityId('counter', k), 'add', 1);
const time = async (key: string) => {
  const t = performance.now();
  await client.callEntity(new EntityId('counter', key), 'get');
  return Math.round((performance.now() - t) * 100) / 100;
};
for (let r = 0; r < 3; r++) {
  await worker.kill('SIGTERM');
  worker = await startWorkerProcess({ ...env, WORKER_ID: `p${r + 1}` });
  await new Promise((res) => setTimeout(res, Number(process.env.PROBE_SLEEP ?? 0)));
  const rc = (await raw.rawCall(300)).p50;
  const warm = await time('warmup');
  const o1 = await time(other[r]!);
  const s1 = await time(same[r]!);
  const b1 = await time('million');
  const b2 = await time('million');
  const s2 = await time(same[r + 3]!);
  const tail: number[] = [];
  for (let i = 0; i < 10; i++) tail.push(await time(other[(r + i) % other.length]!));
  console.log(
    `run ${r}: raw call p50 ${rc.toFixed(3)}; warmup ${warm}; first small other partition ${o1}; first small same partition ${s1}; first big ${b1}; second big ${b2}; another small same partition ${s2}; then ${tail.join(' ')}`,
  );
}
await client.close();
await worker.kill('SIGTERM');
await raw.close();
await nc.close();
await server.stop();
