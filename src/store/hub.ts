/**
 * The hub's JetStream topology: creates (idempotently) and opens every stream and bucket a hub
 * uses, and fixes the partition count when the hub is first created.
 *
 * Invariant: a hub's partition count never changes after creation (it is stored in the lease
 * bucket under key 'hub' with kv.create, so the first creator wins and everyone reads it back).
 */
import { jetstream, jetstreamManager, RetentionPolicy, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeJson, encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { DEFAULT_PARTITIONS, hubNames, type HubNames } from '../core/topology.js';

const NS_PER_MS = 1_000_000;
const MINUTE = 60_000;
/**
 * Dedupe window of the inbox, start and activity streams. It must outlast a crash recovery or a
 * paused worker's late publishes (seconds); every effect carries a message id, so a longer window
 * costs server memory in proportion to throughput (2 min at 7k ids/s is ~1M entries).
 */
export const DEDUPE_WINDOW_MS = 2 * MINUTE;

export interface HubOptions {
  hub: string;
  partitions?: number;
  replicas?: number;
}

export interface HubConfig {
  partitions: number;
  createdAt: string;
  formatVersion: 1;
}

export interface Hub {
  names: HubNames;
  config: HubConfig;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  leases: KV;
  status: KV;
  timers: KV;
  catalog: KV;
  entityIndex: KV;
}

function streamConfigs(n: HubNames, replicas: number): Array<Partial<StreamConfig> & { name: string }> {
  const base = { num_replicas: replicas, allow_direct: true, storage: 'file' as const };
  const h = n.hub;
  return [
    // Inbox: everything sent to an actor. Read by partition owners from their checkpoint; purged
    // behind the checkpoint. The duplicate window is the first line of exactly-once.
    { ...base, name: n.inboxStream, subjects: [`${h}.in.>`], duplicate_window: DEDUPE_WINDOW_MS * NS_PER_MS },
    // Events: one message per actor per committed batch; the last one holds the entity's state.
    { ...base, name: n.eventStream, subjects: [`${h}.ev.>`], duplicate_window: 2 * MINUTE * NS_PER_MS },
    // Starts from raw producers (instance id chosen by the producer), routed to partitions.
    { ...base, name: n.startStream, subjects: [`${h}.start.>`], duplicate_window: DEDUPE_WINDOW_MS * NS_PER_MS },
    // Activity work queue: any worker pulls; a message leaves when its result is durable.
    { ...base, name: n.activityStream, subjects: [`${h}.act.>`], retention: RetentionPolicy.Workqueue, duplicate_window: DEDUPE_WINDOW_MS * NS_PER_MS },
    // Parked messages that could not be applied, with the reason in headers.
    { ...base, name: n.deadLetterStream, subjects: [`${h}.dlq.>`], max_age: 30 * 24 * 60 * MINUTE * NS_PER_MS },
  ];
}

export async function openHub(nc: NatsConnection, options: HubOptions): Promise<Hub> {
  const names = hubNames(options.hub);
  const replicas = options.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3) throw new DurableError('validation', `replicas must be 1 or 3, got ${replicas}`);
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: 10_000 });
  } catch (e) {
    throw new DurableError('connection', `JetStream is not available on this server: ${(e as Error).message}`, { cause: e });
  }
  const js = jetstream(nc, { timeout: 10_000 });
  for (const cfg of streamConfigs(names, replicas)) await ensureStream(jsm, cfg);
  const kvm = new Kvm(js);
  // The lease bucket answers quickly or not at all: a lost request (server restarting) must not
  // hold up renewals for the default 10 s, longer than a lease.
  const bucket = (name: string, timeout = 10_000) => kvm.create(name, { history: 1, replicas, allow_direct: true, timeout } satisfies Partial<KvOptions>);
  const [leases, status, timers, catalog, entityIndex] = await Promise.all([
    bucket(names.leaseBucket, 2_000), bucket(names.statusBucket), bucket(names.timerBucket), bucket(names.catalogBucket), bucket(names.entityIndexBucket),
  ]);
  const config = await fixHubConfig(leases, options.partitions);
  return { names, config, nc, js, jsm, leases, status, timers, catalog, entityIndex };
}

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
    return;
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw new DurableError('connection', `stream ${cfg.name}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await jsm.streams.add(cfg);
  } catch (e) {
    // Another process may have created it a moment ago.
    if (!/already in use|exists/i.test((e as Error).message)) throw new DurableError('connection', `cannot create stream ${cfg.name}: ${(e as Error).message}`, { cause: e });
  }
}

async function fixHubConfig(leases: KV, partitions?: number): Promise<HubConfig> {
  if (partitions !== undefined && (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024)) {
    throw new DurableError('validation', `partitions must be an integer in 1..1024, got ${partitions}`);
  }
  const wanted: HubConfig = { partitions: partitions ?? DEFAULT_PARTITIONS, createdAt: new Date().toISOString(), formatVersion: 1 };
  try {
    await leases.create('hub', encodeJson(wanted));
    return wanted;
  } catch {
    const entry = await leases.get('hub');
    if (!entry || entry.length === 0) throw new DurableError('connection', 'hub configuration missing from the lease bucket');
    return decodeJson<HubConfig>(entry.value);
  }
}
