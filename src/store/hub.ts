/**
 * The hub's JetStream topology: creates (idempotently) and opens every stream and bucket a hub
 * uses, and fixes the partition count when the hub is first created.
 *
 * Invariant: a hub's partition count never changes after creation (it is stored in the lease
 * bucket under key 'hub' with kv.create, so the first creator wins and everyone reads it back).
 * Several processes may open a new hub at once, against a cluster still electing: every step is
 * idempotent and retried on transient errors until the start-up deadline (store/transient.ts).
 */
import { jetstream, jetstreamManager, JetStreamApiCodes, RetentionPolicy, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeJson, encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { DEFAULT_PARTITIONS, hubNames, type HubNames } from '../core/topology.js';
import type { Fabric, StreamConfig as FabricStreamConfig, KvBucket } from './fabric.js';
import { NatsFabric } from './nats-fabric.js';
import { apiErrorCode, isAlreadyExists, isTransient, startupDeadline, withStartupRetry, type StartupRetryOptions } from './transient.js';

const NS_PER_MS = 1_000_000;
const MINUTE = 60_000;
/**
 * Dedupe window of the inbox, start and activity streams. It must outlast a crash recovery or a
 * paused worker's late publishes (seconds); every effect carries a message id, so a longer window
 * costs server memory in proportion to throughput (2 min at 7k ids/s is ~1M entries).
 */
export const DEDUPE_WINDOW_MS = 2 * MINUTE;
/** Per-attempt timeout of the start-up probe of JetStream (retried until the start-up deadline). */
const PROBE_TIMEOUT_MS = 2_000;

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
  /** @deprecated being moved onto `fabric` and `kv` (test kit seam); do not add uses. */
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  leases: KV;
  status: KV;
  timers: KV;
  catalog: KV;
  entityIndex: KV;
}

function streamConfigs(n: HubNames, replicas: number, deadLetterMaxAgeMs?: number): Array<Partial<StreamConfig> & { name: string }> {
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
    { ...base, name: n.deadLetterStream, subjects: [`${h}.dlq.>`], max_age: (deadLetterMaxAgeMs ?? 30 * 24 * 60 * MINUTE) * NS_PER_MS },
  ];
}

export async function openHub(nc: NatsConnection, options: HubOptions): Promise<Hub> {
  const names = hubNames(options.hub);
  const replicas = options.replicas ?? 1;
  validateHubOptions(options);
  const startup = options.startup ?? startupDeadline(undefined);
  // Readiness probe: account info, with a short timeout. While a cluster elects its meta leader
  // JetStream requests go unanswered (or "no responders"), and one 10 s attempt would spend a
  // third of the default start-up budget waiting for an answer that the next attempt gets.
  await withStartupRetry('JetStream account info', () => jetstreamManager(nc, { timeout: PROBE_TIMEOUT_MS }), startup);
  const jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
  const js = jetstream(nc, { timeout: 10_000 });
  await Promise.all(streamConfigs(names, replicas, options.deadLetterMaxAgeMs).map((cfg) => ensureStream(jsm, cfg, startup)));
  const kvm = new Kvm(js);
  // The lease bucket answers quickly or not at all: a lost request (server restarting) must not
  // hold up renewals for the default 10 s, longer than a lease.
  // Kvm.create is info-then-add: racing peers' creates time out (seen on R3) or, with another
  // config, fail "already in use"; the retry's info then finds the bucket.
  const bucket = (name: string, timeout = 10_000) =>
    withStartupRetry(`KV bucket ${name}`, () => kvm.create(name, { history: 1, replicas, allow_direct: true, timeout } satisfies Partial<KvOptions>), {
      ...startup,
      retryAlso: isAlreadyExists,
    });
  const [leases, status, timers, catalog, entityIndex] = await Promise.all([
    bucket(names.leaseBucket, 2_000),
    bucket(names.statusBucket),
    bucket(names.timerBucket),
    bucket(names.catalogBucket),
    bucket(names.entityIndexBucket),
  ]);
  const config = await withStartupRetry('hub configuration', () => fixHubConfig(leases, options.partitions), startup);
  // The start-up's logger (the worker's) hears of follows that replace their consumer.
  const fabric = await withStartupRetry('fabric', () => NatsFabric.on(nc, { replicas, ...(startup.logger ? { logger: startup.logger } : {}) }), startup);
  const kv: HubBuckets = {
    leases: fabric.wrapKv(leases, names.leaseBucket),
    status: fabric.wrapKv(status, names.statusBucket),
    timers: fabric.wrapKv(timers, names.timerBucket),
    catalog: fabric.wrapKv(catalog, names.catalogBucket),
    entityIndex: fabric.wrapKv(entityIndex, names.entityIndexBucket),
  };
  return { names, config, fabric, kv, nc, js, jsm, leases, status, timers, catalog, entityIndex };
}

/**
 * The hub's streams on the port (the same configurations as `streamConfigs`, which NATS's openHub
 * creates directly); the fabric applies its own replicas.
 */
export function hubStreams(n: HubNames, deadLetterMaxAgeMs?: number): FabricStreamConfig[] {
  const h = n.hub;
  return [
    { name: n.inboxStream, subjects: [`${h}.in.>`], duplicateWindowMs: DEDUPE_WINDOW_MS },
    { name: n.eventStream, subjects: [`${h}.ev.>`], duplicateWindowMs: 2 * MINUTE },
    { name: n.startStream, subjects: [`${h}.start.>`], duplicateWindowMs: DEDUPE_WINDOW_MS },
    { name: n.activityStream, subjects: [`${h}.act.>`], workQueue: true, duplicateWindowMs: DEDUPE_WINDOW_MS },
    { name: n.deadLetterStream, subjects: [`${h}.dlq.>`], maxAgeMs: deadLetterMaxAgeMs ?? 30 * 24 * 60 * MINUTE },
  ];
}

/**
 * Opens a hub on any fabric (the test kit's memory fabric; NATS through NatsFabric): the same
 * streams, buckets and configuration fix as openHub, each step retried on transient errors until
 * the start-up deadline. The fabric stays the caller's: nothing here closes it. The deprecated
 * NATS fields of the Hub are stubs that fail with DurableError 'connection' when used (modules
 * still on them cannot run on such a hub; they are being moved onto `fabric` and `kv`).
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
  const bucket = (name: string, timeoutMs = 10_000) => withStartupRetry(`KV bucket ${name}`, () => fabric.kv(name, { timeoutMs }), { ...startup, retryAlso: isAlreadyExists });
  const [leases, status, timers, catalog, entityIndex] = await Promise.all([
    bucket(names.leaseBucket, 2_000),
    bucket(names.statusBucket),
    bucket(names.timerBucket),
    bucket(names.catalogBucket),
    bucket(names.entityIndexBucket),
  ]);
  const config = await withStartupRetry('hub configuration', () => fixHubConfigOn(leases, fabric, options.partitions), startup);
  const kv: HubBuckets = { leases, status, timers, catalog, entityIndex };
  return {
    names,
    config,
    fabric,
    kv,
    nc: notOnThisFabric<NatsConnection>('nc'),
    js: notOnThisFabric<JetStreamClient>('js'),
    jsm: notOnThisFabric<JetStreamManager>('jsm'),
    leases: notOnThisFabric<KV>('leases'),
    status: notOnThisFabric<KV>('status'),
    timers: notOnThisFabric<KV>('timers'),
    catalog: notOnThisFabric<KV>('catalog'),
    entityIndex: notOnThisFabric<KV>('entityIndex'),
  };
}

function validateHubOptions(options: HubOptions): void {
  const replicas = options.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3) throw new DurableError('validation', `replicas must be 1 or 3, got ${replicas}`);
  if (options.partitions !== undefined && (!Number.isInteger(options.partitions) || options.partitions < 1 || options.partitions > 1024)) {
    throw new DurableError('validation', `partitions must be an integer in 1..1024, got ${options.partitions}`);
  }
}

/**
 * A deprecated Hub field on a hub opened on a fabric: any use of it fails with DurableError
 * 'connection'. Inspection (a promise's `then` check, util.inspect, JSON) sees an empty object.
 */
function notOnThisFabric<T extends object>(field: string): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      if (typeof prop === 'symbol' || prop === 'then' || prop === 'toJSON') return undefined;
      throw new DurableError('connection', `not available on this fabric: hub.${field}.${prop} (use hub.fabric and hub.kv)`);
    },
  });
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
    if (!DurableError.is(e, 'fenced') && !isTransient(e)) throw e;
    const entry = await leases.get('hub');
    if (!entry || entry.value.length === 0) {
      if (isTransient(e)) throw e; // the create did not land: retry it
      throw new DurableError('connection', 'hub configuration missing from the lease bucket');
    }
    return decodeJson<HubConfig>(entry.value);
  }
}

/**
 * Creates the stream unless it exists. Several processes may create a new hub at once. Measured
 * on 2.9.10 (4 concurrent creates, single server and R3 cluster): identical stream creates all
 * succeed; of 4 concurrent creates of one R3 KV bucket, 2 timed out (retried as transient). A
 * create that meets the stream with another config gets "already in use" (10058): look again, and
 * keep the existing stream, as an existing hub is kept.
 */
async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }, startup: StartupRetryOptions): Promise<void> {
  await withStartupRetry(
    `stream ${cfg.name}`,
    async () => {
      try {
        await jsm.streams.info(cfg.name);
        return;
      } catch (e) {
        if (apiErrorCode(e) !== JetStreamApiCodes.StreamNotFound) throw e;
      }
      try {
        await jsm.streams.add(cfg);
      } catch (e) {
        // Lost a create race (or the stream exists with another config): the next attempt's info
        // settles it. Not a fatal error here, and not a success before info confirms it.
        if (isAlreadyExists(e)) throw new CreateRaced(cfg.name, e);
        throw e;
      }
    },
    { ...startup, retryAlso: (e) => e instanceof CreateRaced },
  );
}

class CreateRaced extends Error {
  constructor(name: string, cause: unknown) {
    super(`stream ${name} was being created by another process`, { cause });
  }
}

/**
 * Reads or fixes the hub's configuration. Only "wrong last sequence" from kv.create means another
 * process fixed it first; any other error (a timeout, no leader) propagates so the caller retries
 * or fails: it used to be taken for "exists" and then failed on the read-back.
 */
async function fixHubConfig(leases: KV, partitions?: number): Promise<HubConfig> {
  const wanted: HubConfig = { partitions: partitions ?? DEFAULT_PARTITIONS, createdAt: new Date().toISOString(), formatVersion: 1 };
  try {
    await leases.create('hub', encodeJson(wanted));
    return wanted;
  } catch (e) {
    const code = apiErrorCode(e);
    // kv.create re-reads the key after a failed put and rethrows the put's error when the key
    // exists, so a timed-out create whose put landed (ours or another's) also ends up here: the
    // read below tells which configuration won either way.
    if (code !== JetStreamApiCodes.StreamWrongLastSequence && code !== JetStreamApiCodes.StreamWrongLastSequenceUnknown && !isTransient(e)) throw e;
    const entry = await leases.get('hub');
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) {
      if (isTransient(e)) throw e; // the create did not land: retry it
      throw new DurableError('connection', 'hub configuration missing from the lease bucket');
    }
    return decodeJson<HubConfig>(entry.value);
  }
}
