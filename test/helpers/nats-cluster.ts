/**
 * Starts a private 3-node JetStream cluster for one test file: the layout of deploy/cluster/
 * (server_name n1..n3, one cluster, full mesh of routes) on free loopback ports, a temp store per
 * node; nodes are killed and started by PID. Ready means every running node answers 200 on its
 * monitoring /healthz (JetStream up, meta leader known, its streams current).
 */
import type { Hub } from '../../src/store/hub.js';
import { natsOf } from '../../src/store/nats-hub.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJson, encodeJson } from '../../src/core/codec.js';
import { type DurableClient, DurableError, EntityId } from '../../src/index.js';
import { LeanPublisher } from '../../src/store/lean-publisher.js';
import type { AckLog } from './loss-evidence.js';
import { expectedTotalBytes } from '../../orchestrations/fan-out-fan-in.js';
import { freePort, NATS_SERVER_BIN } from './nats-server.js';

export interface TestCluster {
  /** Client URLs of all three nodes (give them all to workers and clients). */
  urls: string[];
  /** `urls` joined with commas (the NATS_URL form). */
  servers: string;
  dir: string;
  /** Monitoring ports of n1..n3 (/jsz gives each node's own view of a stream). */
  httpPorts: number[];
  /** SIGKILL node i (0..2). */
  killNode(i: number): Promise<void>;
  /** Starts node i again on its ports and store; resolves once it is healthy. */
  startNode(i: number): Promise<void>;
  /** SIGKILL every node, then start them all again (a whole-cluster crash). */
  restartAll(): Promise<void>;
  /** Resolves once every running node is healthy. */
  waitReady(timeoutMs?: number): Promise<void>;
  pid(i: number): number | undefined;
  /** Keep the store dirs and logs after stop() (set when a test failed, for the post-mortem). */
  keep(): void;
  stop(): Promise<void>;
}

interface Node {
  name: string;
  port: number;
  clusterPort: number;
  httpPort: number;
  conf: string;
  store: string;
  log: string;
  child?: ChildProcess;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function healthy(node: Node): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function startNatsCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dn-cluster-'));
  const nodes: Node[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push({
      name: `n${i + 1}`,
      port: await freePort(),
      clusterPort: await freePort(),
      httpPort: await freePort(),
      conf: join(dir, `n${i + 1}.conf`),
      store: join(dir, `n${i + 1}`),
      log: join(dir, `n${i + 1}.log`),
    });
  }
  for (const n of nodes) {
    mkdirSync(n.store, { recursive: true });
    writeFileSync(
      n.conf,
      [
        `server_name: ${n.name}`,
        'host: 127.0.0.1',
        `port: ${n.port}`,
        `http_port: ${n.httpPort}`,
        'max_payload: 1MB',
        `jetstream { store_dir: "${n.store}", max_memory_store: 1GB, max_file_store: 20GB }`,
        `cluster { name: dn-test, listen: 127.0.0.1:${n.clusterPort}, routes: [${nodes.map((m) => `nats-route://127.0.0.1:${m.clusterPort}`).join(', ')}] }`,
        `log_file: "${n.log}"`,
      ].join('\n'),
    );
  }
  let keepDir = false;
  const running = (n: Node) => !!n.child && n.child.exitCode === null && n.child.signalCode === null;
  const launch = (n: Node) => {
    n.child = spawn(NATS_SERVER_BIN, ['-c', n.conf], { stdio: 'ignore' });
  };
  const kill = async (n: Node, signal: NodeJS.Signals) => {
    const c = n.child;
    if (!c || !running(n)) return;
    const exited = new Promise((r) => c.once('exit', r));
    process.kill(c.pid!, signal);
    await Promise.race([exited, sleep(10_000)]);
  };
  const waitReady = async (timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const up = nodes.filter(running);
      if ((await Promise.all(up.map(healthy))).every(Boolean)) return;
      await sleep(200);
    }
    throw new Error(`NATS cluster not healthy within ${timeoutMs} ms (logs in ${dir})`);
  };
  nodes.forEach(launch);
  await waitReady();
  const urls = nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  return {
    urls,
    servers: urls.join(','),
    dir,
    httpPorts: nodes.map((n) => n.httpPort),
    waitReady,
    pid: (i) => nodes[i]?.child?.pid,
    keep() {
      keepDir = true;
    },
    async killNode(i) {
      await kill(nodes[i]!, 'SIGKILL');
    },
    async startNode(i) {
      const n = nodes[i]!;
      if (!running(n)) launch(n);
      await waitReady();
    },
    async restartAll() {
      await Promise.all(nodes.map((n) => kill(n, 'SIGKILL')));
      nodes.forEach(launch);
      await waitReady();
    },
    async stop() {
      await Promise.all(nodes.map((n) => kill(n, 'SIGTERM')));
      await Promise.all(nodes.map((n) => kill(n, 'SIGKILL')));
      if (keepDir || process.env.DN_KEEP_CLUSTER) console.log(`cluster store dirs and logs kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared by the scale-out and fault tests: who owns what, and workloads whose result is exact.

/** Owner of each partition lease `p.<n>` (null when released), read from the hub's lease bucket. */
export async function leaseOwners(client: { hub: Pick<Hub, 'kv' | 'config'> }): Promise<Array<string | null>> {
  const owners: Array<string | null> = [];
  for (let p = 0; p < client.hub.config.partitions; p++) {
    const e = await client.hub.kv.leases.get(`p.${p}`);
    owners.push(e && e.value.length > 0 ? (decodeJson<{ owner: string | null }>(e.value).owner ?? null) : null);
  }
  return owners;
}

/** Partitions per owner, e.g. { a: 8, b: 8 } (released partitions under 'null'). */
export function countOwners(owners: Array<string | null>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of owners) counts[String(o)] = (counts[String(o)] ?? 0) + 1;
  return counts;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** Retries `fn` on any error until `timeoutMs`: producers keep trying while NATS is down. */
export async function retrying<T>(fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(250);
    }
  }
}

/**
 * Sends `total` `add` signals over `entities` counters (amount (i % 7) + 1), at most `window` in
 * flight, each with an idempotency key so that a retry after a lost PubAck is applied once.
 * `onProgress` runs every `every` signals (fault injection happens there). Returns expected sums.
 */
export async function sendSignals(
  client: DurableClient,
  prefix: string | null,
  entities: number,
  total: number,
  onProgress: (sent: number) => Promise<void> = async () => undefined,
  every = 1_000,
  window = 256,
  acks?: AckLog,
): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  // With `acks`: the same publish as signalEntity (subject, body, Nats-Msg-Id), made here so that
  // every PubAck (sequence, duplicate flag) or error of every attempt is recorded per key.
  const publisher = acks ? new LeanPublisher(natsOf(client.hub).nc) : undefined;
  const recorded = (key: string, id: EntityId, amount: number) => async () => {
    const log = acks!.get(key) ?? [];
    acks!.set(key, log);
    try {
      const ack = await publisher!.publish(client.signalSubject(id), encodeJson({ op: 'add', input: amount }), { msgId: key });
      log.push({ seq: ack.seq, duplicate: ack.duplicate, at: Date.now() });
    } catch (e) {
      log.push({ error: (e as Error).message, at: Date.now() });
      throw e;
    }
  };
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const key = `k${i % entities}`;
    const amount = (i % 7) + 1;
    expected.set(key, (expected.get(key) ?? 0) + amount);
    // prefix null: plain signals, no key and no retry (exactly-once must then come from the runtime alone).
    const send =
      prefix === null
        ? client.signalEntity(new EntityId('counter', key), 'add', amount)
        : acks
          ? retrying(recorded(`${prefix}:${i}`, new EntityId('counter', key), amount))
          : retrying(() => client.signalEntity(new EntityId('counter', key), 'add', amount, { idempotencyKey: `${prefix}:${i}` }));
    const p = send.finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= window) await Promise.race(inFlight);
    if (i % every === every - 1) await onProgress(i + 1);
  }
  await Promise.all(inFlight);
  publisher?.close();
  return expected;
}

/** Every counter's value through callEntity (so it waits for the inbox to drain); the wrong ones. */
export async function wrongTotals(client: DurableClient, expected: Map<string, number>): Promise<Array<{ key: string; expected: number; actual: unknown }>> {
  const keys = [...expected.keys()];
  const actual = await Promise.all(keys.map((k) => retrying(() => client.callEntity<number>(new EntityId('counter', k), 'get', undefined, { timeoutMs: 30_000 }))));
  return keys.map((key, i) => ({ key, expected: expected.get(key)!, actual: actual[i] })).filter((r) => r.actual !== r.expected);
}

/** Starts `chains` helloSequence and `fans` fanOutFanIn instances (count 40 + i) with chosen ids. */
export async function startOrchestrations(client: DurableClient, prefix: string, chains: number, fans: number): Promise<{ chains: string[]; fans: string[] }> {
  const start = (name: string, instanceId: string, input?: unknown) =>
    retrying(async () => {
      try {
        return await client.startNew(name, { instanceId, ...(input === undefined ? {} : { input }) });
      } catch (e) {
        if (DurableError.is(e, 'instance-exists')) return instanceId; // an earlier attempt got through
        throw e;
      }
    });
  return {
    chains: await Promise.all(Array.from({ length: chains }, (_, i) => start('helloSequence', `${prefix}-chain-${i}`))),
    fans: await Promise.all(Array.from({ length: fans }, (_, i) => start('fanOutFanIn', `${prefix}-fan-${i}`, { count: 40 + i }))),
  };
}

/**
 * Waits for every instance and lists what is wrong: not Completed, wrong output, or a task whose
 * result was applied twice (more than one TaskCompleted/TaskFailed per task id in the history,
 * or completions != scheduled tasks).
 */
export async function wrongOrchestrations(client: DurableClient, ids: { chains: string[]; fans: string[] }, timeoutMs = 90_000): Promise<string[]> {
  const problems: string[] = [];
  const check = async (id: string, expectedOutput: unknown) => {
    const s = await client.waitForCompletion(id, { timeoutMs });
    if (s.runtimeStatus !== 'Completed') return problems.push(`${id}: ${s.runtimeStatus} ${s.failureDetails?.message ?? ''}`);
    if (JSON.stringify(s.output) !== JSON.stringify(expectedOutput)) return problems.push(`${id}: output ${JSON.stringify(s.output)}`);
    const history = (await client.readHistory(id)) as Array<{ type: string; taskId?: number }>;
    const completions = history.filter((e) => e.type === 'TaskCompleted' || e.type === 'TaskFailed').map((e) => e.taskId);
    const scheduled = history.filter((e) => e.type === 'TaskScheduled').length;
    if (new Set(completions).size !== completions.length || completions.length !== scheduled) problems.push(`${id}: ${completions.length} completions for ${scheduled} tasks`);
    return undefined;
  };
  await Promise.all([
    ...ids.chains.map((id) => check(id, ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'])),
    ...ids.fans.map((id, i) => check(id, { files: 40 + i, totalBytes: expectedTotalBytes(40 + i) })),
  ]);
  return problems;
}
