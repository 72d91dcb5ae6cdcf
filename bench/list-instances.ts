/**
 * What listInstances costs with N instances in the hub: a first page of 100, and a full listing
 * (pages of 1,000 until no continuation token), on a private nats-server. Statuses are written
 * straight to the status bucket (as workers write them), so 100,000 take seconds, not a run each.
 *
 *   npx tsx bench/list-instances.ts [N=100000] [--writes] [--first]
 *   (--writes: rewrite random statuses during the listing; --first: only the first page)
 *
 * Not part of `npm run bench`: it measures one method before and after a change.
 */
import { natsOf } from '../src/store/nats-hub.js';
import { DurableClient } from '../src/index.js';
import { statusKey } from '../src/core/topology.js';
import { startNatsServer } from '../test/helpers/nats-server.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
const withWrites = process.argv.includes('--writes');
const firstOnly = process.argv.includes('--first');

const server = await startNatsServer();
const client = await DurableClient.connect({ servers: server.url, hub: 'bench-list' });
try {
  const enc = new TextEncoder();
  const bucket = client.hub.names.statusBucket;
  const record = (i: number, status = 'Completed') =>
    enc.encode(
      JSON.stringify({
        instanceId: `inst-${String(i).padStart(7, '0')}`,
        name: 'hello',
        runtimeStatus: status,
        createdTime: new Date(1_700_000_000_000 + i).toISOString(),
        lastUpdatedTime: new Date().toISOString(),
        output: 'done',
        _v: i + 1,
      }),
    );
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1_000) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 1_000); j++) batch.push(natsOf(client.hub).js.publish(`$KV.${bucket}.${statusKey(`inst-${String(j).padStart(7, '0')}`)}`, record(j)));
    await Promise.all(batch);
  }
  console.log(`filled ${N} statuses in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  let writing = withWrites;
  let rewrites = 0;
  const writer = (async () => {
    while (writing) {
      const i = Math.floor(Math.random() * N);
      await client.hub.kv.status.put(statusKey(`inst-${String(i).padStart(7, '0')}`), record(i, 'Running'));
      rewrites++;
    }
  })();

  const t1 = performance.now();
  const first = await client.listInstances({ pageSize: 100 });
  const firstMs = performance.now() - t1;
  console.log(`first page of 100: ${firstMs.toFixed(0)} ms (${first.instances.length} instances)`);

  const t2 = performance.now();
  const ids = new Set<string>();
  let listed = 0;
  let pages = 0;
  let token: string | undefined;
  if (!firstOnly)
    do {
      const page = await client.listInstances({ pageSize: 1_000, ...(token ? { continuationToken: token } : {}) });
      for (const s of page.instances) ids.add(s.instanceId);
      listed += page.instances.length;
      pages++;
      token = page.continuationToken;
    } while (token && performance.now() - t2 < 600_000);
  if (firstOnly) console.log('full listing: skipped (--first)');
  const fullMs = performance.now() - t2;
  writing = false;
  await writer;
  if (!firstOnly)
    console.log(`full listing: ${fullMs.toFixed(0)} ms, ${pages} pages, ${listed} listed, ${ids.size} distinct of ${N}${withWrites ? `, ${rewrites} rewrites meanwhile` : ''}`);
} finally {
  await client.close();
  await server.stop();
}
