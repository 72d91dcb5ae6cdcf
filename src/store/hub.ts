/**
 * The hub's topology on the fabric port: creates (idempotently) and opens every stream and bucket
 * a hub uses, and fixes the partition count when the hub is first created. NATS-free: on NATS,
 * src/store/nats-hub.ts connects, probes JetStream and opens the hub here on a NatsFabric.
 *
 * Invariant: a hub's partition count never changes after creation (it is stored in the lease
 * bucket under key 'hub' with kv.create, so the first creator wins and everyone reads it back).
 * Several processes may open a new hub at once, against a cluster still electing: every step is
 * idempotent and retried on transient errors until the start-up deadline (store/transient.ts).
 */
import { decodeJson, encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { DEFAULT_PARTITIONS, hubNames, type HubNames } from '../core/topology.js';
import type { Fabric, StreamConfig as FabricStreamConfig, KvBucket } from './fabric.js';
import { isAlreadyExistsMessage, isRetryable, startupDeadline, withStartupRetry, type StartupRetryOptions } from './startup.js';

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
  /** Deadline and logger of this start-up: every step retries transient errors until then. */
  startup?: StartupRetryOptions;
  /** Age of parked messages in the dead-letter stream, set when the hub is created (default 30 days). */
  deadLetterMaxAgeMs?: number;
}

export interface HubConfig {
  partitions: number;
  createdAt: string;
  formatVersion: 1;
}

/** The hub's KV buckets on the fabric port. */
export interface HubBuckets {
  leases: KvBucket;
  status: KvBucket;
  timers: KvBucket;
  catalog: KvBucket;
  entityIndex: KvBucket;
}

export interface Hub {
  names: HubNames;
  config: HubConfig;
  /** The port everything above the store uses (src/store/fabric.ts); its clock is the engine's. */
  fabric: Fabric;
  kv: HubBuckets;
}

/** The hub's streams (on NATS, NatsFabric adds the replicas, file storage and direct gets). */
export function hubStreams(n: HubNames, deadLetterMaxAgeMs?: number): FabricStreamConfig[] {
  const h = n.hub;
  return [
    // Inbox: everything sent to an actor. Read by partition owners from their checkpoint; purged
    // behind the checkpoint. The duplicate window is the first line of exactly-once.
    { name: n.inboxStream, subjects: [`${h}.in.>`], duplicateWindowMs: DEDUPE_WINDOW_MS },
    // Events: one message per actor per committed batch; the last one holds the entity's state.
    { name: n.eventStream, subjects: [`${h}.ev.>`], duplicateWindowMs: 2 * MINUTE },
    // Starts from raw producers (instance id chosen by the producer), routed to partitions.
    { name: n.startStream, subjects: [`${h}.start.>`], duplicateWindowMs: DEDUPE_WINDOW_MS },
    // Activity work queue: any worker pulls; a message leaves when its result is durable.
    { name: n.activityStream, subjects: [`${h}.act.>`], workQueue: true, duplicateWindowMs: DEDUPE_WINDOW_MS },
    // Parked messages that could not be applied, with the reason in headers.
    { name: n.deadLetterStream, subjects: [`${h}.dlq.>`], maxAgeMs: deadLetterMaxAgeMs ?? 30 * 24 * 60 * MINUTE },
  ];
}

/**
 * Opens a hub on any fabric (the test kit's memory fabric; NATS through NatsFabric): streams,
 * buckets and the configuration fix, each step retried on transient errors until the start-up
 * deadline. The fabric stays the caller's: nothing here closes it.
 *
 * @example
 * const hub = await openHubOn(new MemoryFabric(), { hub: 'demo', partitions: 4 });
 */
export async function openHubOn(fabric: Fabric, options: HubOptions): Promise<Hub> {
  const names = hubNames(options.hub);
  validateHubOptions(options);
  const startup = options.startup ?? startupDeadline(undefined);
  await Promise.all(hubStreams(names, options.deadLetterMaxAgeMs).map((cfg) => withStartupRetry(`stream ${cfg.name}`, () => fabric.ensureStream(cfg), startup)));
  // The lease bucket answers quickly or not at all (see openHub). A create that raced with another
  // process's ("already in use") is retried: the next attempt opens the bucket it made.
  const bucket = (name: string, timeoutMs = 10_000) =>
    withStartupRetry(`KV bucket ${name}`, () => fabric.kv(name, { timeoutMs }), { ...startup, retryAlso: isAlreadyExistsMessage });
  const [leases, status, timers, catalog, entityIndex] = await Promise.all([
    bucket(names.leaseBucket, 2_000),
    bucket(names.statusBucket),
    bucket(names.timerBucket),
    bucket(names.catalogBucket),
    bucket(names.entityIndexBucket),
  ]);
  const config = await withStartupRetry('hub configuration', () => fixHubConfigOn(leases, fabric, options.partitions), startup);
  const kv: HubBuckets = { leases, status, timers, catalog, entityIndex };
  return { names, config, fabric, kv };
}

function validateHubOptions(options: HubOptions): void {
  const replicas = options.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3) throw new DurableError('validation', `replicas must be 1 or 3, got ${replicas}`);
  if (options.partitions !== undefined && (!Number.isInteger(options.partitions) || options.partitions < 1 || options.partitions > 1024)) {
    throw new DurableError('validation', `partitions must be an integer in 1..1024, got ${options.partitions}`);
  }
}

/**
 * Reads or fixes the hub's configuration on the port: `create` of key 'hub' in the lease bucket;
 * `fenced` means another process fixed it first, and the read-back tells which configuration won
 * (also after a transient failure whose create may have landed).
 */
async function fixHubConfigOn(leases: KvBucket, fabric: Fabric, partitions?: number): Promise<HubConfig> {
  const wanted: HubConfig = { partitions: partitions ?? DEFAULT_PARTITIONS, createdAt: new Date(fabric.clock.now()).toISOString(), formatVersion: 1 };
  try {
    await leases.create('hub', encodeJson(wanted));
    return wanted;
  } catch (e) {
    if (!DurableError.is(e, 'fenced') && !isRetryable(e)) throw e;
    const entry = await leases.get('hub');
    if (!entry || entry.value.length === 0) {
      if (isRetryable(e)) throw e; // the create did not land: retry it
      throw new DurableError('connection', 'hub configuration missing from the lease bucket');
    }
    return decodeJson<HubConfig>(entry.value);
  }
}
