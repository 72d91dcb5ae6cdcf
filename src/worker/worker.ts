/**
 * Worker: hosts entities, orchestrations and activities of one hub. Any number of workers may run
 * for a hub; partitions are spread over them by leases and move to survivors when one stops or dies.
 *
 * Invariant: stop() drains: activities in progress finish and report, each partition's batch in
 * flight ends (committed, or left behind the checkpoint for the next owner), partitions are
 * released with their final checkpoint, then the connection closes.
 */
import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { DurableError } from '../core/errors.js';
import { DEFAULT_HUB } from '../core/topology.js';
import type { EntityDefinition } from '../entity/definition.js';
import { startupDeadline } from '../store/startup.js';
import type { Fabric } from '../store/fabric.js';
import { openHubOn, type Hub, type HubOptions } from '../store/hub.js';
import type { NatsHub } from '../store/nats-hub.js';
import type { ActorHost } from './actor-host.js';
import { entityCatalogEntry, publishCatalog, type CatalogEntry } from './catalog.js';
import { DEFAULT_KEEP_VERSIONS, EntityHost } from './entity-host.js';
import { InstanceRetention } from './instance-retention.js';
import { TrimLimiter } from './effect-publisher.js';
import { LeaseManager } from './lease-manager.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import type { MetricsServer } from './metrics-server.js';
import { decodeToken } from '../core/encoding.js';
import { PartitionProcessor } from './partition.js';
import { SCHEDULE_ENTITY, scheduleEntity } from './schedule-entity.js';
import { statusKey } from '../core/topology.js';
import { decodeStatusRecord } from '../client/status.js';
import { createOrchestrationRuntime, type OrchestrationRuntime } from './orchestration-runtime.js';
import type { ActivityDefinition, OrchestrationDefinition } from '../orchestration/definition.js';

export interface WorkerOptions {
  /** NATS URL(s) of one cluster; default NATS_URL or 127.0.0.1:4222. Ignored with `fabric`. */
  servers?: string | string[];
  /**
   * Run on this fabric instead of connecting to NATS (the test kit's MemoryFabric: no socket).
   * The worker uses its clock for everything the engine times, and leaves it open on stop().
   */
  fabric?: Fabric;
  /** Namespace of streams, buckets and subjects; default 'durable'. */
  hub?: string;
  entities?: EntityDefinition<any>[];
  orchestrations?: OrchestrationDefinition[];
  activities?: ActivityDefinition[];
  /** Partition count, fixed when the hub is first created (default 16). */
  partitions?: number;
  /** 1 or 3: replicas of the hub's streams and buckets when this worker creates them (with `fabric`: the fabric's own). */
  replicas?: number;
  logger?: Logger;
  /** A partition whose owner did not renew for this long moves to another worker (default 6000). */
  leaseMs?: number;
  heartbeatMs?: number;
  /** Most inbox messages per batch (default 1000). */
  maxBatch?: number;
  /** Hot actors kept in memory (default 10000). */
  cacheSize?: number;
  /**
   * Bounded storage (docs/entities.md, "Retention"). `entityVersions`: versions kept per entity
   * (default 100; the latest always; older ones are removed only once their effects are durable).
   * `finishedInstancesMs`: purge instances that reached Completed, Failed or Terminated longer ago
   * than this (default: keep, as in Durable Functions). `deadLettersMs`: age of parked messages
   * (default 30 days; set when the hub is created). Give every worker of a hub the same values.
   */
  retention?: { entityVersions?: number; finishedInstancesMs?: number; deadLettersMs?: number };
  /** Concurrent activity executions (default 64). */
  activityConcurrency?: number;
  /**
   * A running activity heartbeats every third of this; one silent for this long (its worker died)
   * is run again by another worker (default 10000).
   */
  activityAckWaitMs?: number;
  /**
   * Activities that the orchestrations of this worker's partitions schedule, and that this worker
   * registers, run here in-process, up to this many handed over and not finished (waiting for one
   * of the `activityConcurrency` slots or running); their results go into the partition's next
   * batch without the round trips through the activity queue and the inbox. Beyond it, and for
   * activities registered elsewhere, the shared queue. Crash-safe: the partition's checkpoint lists
   * the ones not finished (docs/architecture.md, "Local activity dispatch"). Default 1024; 0 = off.
   */
  localActivityBacklog?: number;
  workerId?: string;
  /** Serve GET /metrics (Prometheus) and GET /healthz on this port (0 = a free port); off when absent. */
  metricsPort?: number;
  /** Interface for the metrics server (default 0.0.0.0). */
  metricsHost?: string;
  /**
   * Bound of the whole start (connect, streams, buckets, catalog, consumers, leases): transient
   * errors of a cluster still forming or electing are retried, logged, until then; after it
   * start() rejects with DurableError 'connection' (default 30000; env DURABLE_NATS_STARTUP_TIMEOUT_MS).
   */
  startupTimeoutMs?: number;
}

/** How long cleanup after a failed start may take per resource before it is abandoned. */
const STOP_ON_FAILURE_MS = 5_000;

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class Worker {
  private constructor(
    readonly id: string,
    readonly hub: Hub,
    /** Closes the connection this worker opened (NATS path) after stop(); undefined on a given fabric. */
    private readonly closeOwned: (() => Promise<void>) | undefined,
    private readonly leases: LeaseManager,
    private readonly orchestrationRuntime: OrchestrationRuntime,
    readonly metrics: WorkerMetrics,
    readonly logger: Logger,
    private readonly metricsServer: MetricsServer | undefined,
    private readonly instanceRetention: InstanceRetention | undefined,
  ) {}

  /** URL of the metrics server (`/metrics`, `/healthz`) when started with `metricsPort`. */
  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  /** True while the fabric reaches its store (NATS: false while reconnecting or closed). */
  get connected(): boolean {
    return this.hub.fabric.isConnected();
  }

  /**
   * @example
   * const worker = await Worker.start({ hub: 'demo', entities: [counter], orchestrations: [hello], activities: [sayHello] });
   * // ...
   * await worker.stop();
   */
  static async start(options: WorkerOptions = {}): Promise<Worker> {
    const id = options.workerId ?? `w-${randomUUID().slice(0, 8)}`;
    const hubName = options.hub ?? process.env.DURABLE_NATS_HUB ?? DEFAULT_HUB;
    const logger = (options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' })).child({ worker: id, hub: hubName });
    const entities = new Map<string, EntityDefinition>();
    for (const def of options.entities ?? []) {
      if (entities.has(def.name)) throw new DurableError('validation', `entity '${def.name}' registered twice`);
      if (def.name === SCHEDULE_ENTITY) throw new DurableError('validation', `entity name '${SCHEDULE_ENTITY}' is reserved for schedules`);
      entities.set(def.name, def);
    }
    const localActivityBacklog = options.localActivityBacklog ?? 10_000;
    if (!Number.isInteger(localActivityBacklog) || localActivityBacklog < 0) {
      throw new DurableError('validation', `localActivityBacklog must be an integer >= 0, got ${localActivityBacklog}`);
    }
    const startup = startupDeadline(options.startupTimeoutMs, logger);
    // On a given fabric there is no connection to open (nor to close): the fabric is the caller's.
    let nats: NatsHub | undefined;
    // Everything started below registers its undo here: a start that fails at any step stops
    // what it started (leases, partitions, consumers, the metrics server), newest first, and
    // closes the connection, so a failed start leaves nothing running in the process.
    const undo: Array<{ what: string; run: () => Promise<unknown> }> = [];
    try {
      const hubOptions: HubOptions = {
        hub: hubName,
        startup,
        ...(options.partitions !== undefined ? { partitions: options.partitions } : {}),
        ...(options.replicas !== undefined ? { replicas: options.replicas } : {}),
        ...(options.retention?.deadLettersMs !== undefined ? { deadLetterMaxAgeMs: options.retention.deadLettersMs } : {}),
      };
      let hub: Hub;
      if (options.fabric) hub = await openHubOn(options.fabric, hubOptions);
      else {
        // Loaded here, not imported above: the engine's import graph stays NATS-free (the test kit).
        const { connectHub } = await import('../store/nats-hub.js');
        nats = await connectHub(options.servers, `durable-nats worker ${id}`, hubOptions);
        hub = nats.hub;
        nats.onConnectionChange((s) => {
          if (s.type === 'disconnect') logger.warn({ server: s.server }, 'NATS connection lost; reconnecting');
          else if (s.type === 'reconnect') logger.info({ server: s.server }, 'NATS connection restored');
        });
      }
      if (options.partitions !== undefined && options.partitions !== hub.config.partitions) {
        logger.warn({ requested: options.partitions, actual: hub.config.partitions }, "hub already exists with another partition count; using the hub's");
      }
      const metrics = createWorkerMetrics({ worker: id, hub: hubName });
      const orchestrationRuntime = createOrchestrationRuntime({
        hub,
        logger,
        metrics,
        orchestrations: options.orchestrations ?? [],
        activities: options.activities ?? [],
        cacheSize: options.cacheSize ?? 10_000,
        activityConcurrency: options.activityConcurrency ?? 64,
        activityAckWaitMs: options.activityAckWaitMs ?? 10_000,
        localActivityBacklog,
        workerId: id,
      });
      // Schedules: a system entity on every worker, kept out of the catalog (not user-callable).
      const userEntities = [...entities.values()];
      entities.set(SCHEDULE_ENTITY, scheduleEntity({ runtimeStatus: (instanceId) => readRuntimeStatus(hub, instanceId) }));
      const hosts: { e: ActorHost; o: ActorHost } = {
        e: new EntityHost(hub, entities, orchestrationRuntime.messages, options.cacheSize ?? 10_000, hub.fabric.clock, retentionVersions(options.retention?.entityVersions), id),
        o: orchestrationRuntime.host,
      };
      const catalog: CatalogEntry[] = [...userEntities.map(entityCatalogEntry), ...orchestrationRuntime.catalog()];
      await publishCatalog(hub.kv.catalog, catalog, startup);
      const trims = new TrimLimiter();
      let leases!: LeaseManager;
      leases = new LeaseManager({
        hub,
        workerId: id,
        leaseMs: options.leaseMs ?? 6_000,
        heartbeatMs: options.heartbeatMs ?? Math.max(100, Math.floor((options.leaseMs ?? 6_000) / 6)),
        logger,
        onOwnershipChange: (n) => metrics.partitionsOwned.set(n),
        createProcessor: (partition, cp) =>
          new PartitionProcessor(partition, cp, {
            hub,
            hosts,
            logger,
            metrics,
            maxBatch: options.maxBatch ?? 1_000,
            leaseValid: () => leases.isValid(partition),
            trims,
            localActivities: orchestrationRuntime.localActivities,
          }),
      });
      // Registered before start(): a start that fails half-way may already hold partitions.
      // Released (not abandoned) so that other workers take them at once rather than after
      // leaseMs; bounded, and abandoned when the release cannot finish (NATS unreachable).
      undo.push({
        what: 'leases',
        run: () =>
          bounded(leases.stop(), STOP_ON_FAILURE_MS)
            .catch(() => undefined)
            .finally(() => leases.abort()),
      });
      await leases.start(startup);
      undo.push({ what: 'activity and start consumers', run: () => bounded(orchestrationRuntime.stopIntake(), STOP_ON_FAILURE_MS) });
      await orchestrationRuntime.start(startup);
      const finishedAfter = options.retention?.finishedInstancesMs;
      if (finishedAfter !== undefined && (!Number.isFinite(finishedAfter) || finishedAfter < 0)) {
        throw new DurableError('validation', `retention.finishedInstancesMs must be a number >= 0, got ${finishedAfter}`);
      }
      const instanceRetention =
        finishedAfter === undefined ? undefined : new InstanceRetention({ hub, logger, afterMs: finishedAfter, isSweeper: () => leases.ownedPartitions().includes(0) });
      instanceRetention?.start();
      undo.push({ what: 'instance retention', run: async () => instanceRetention?.stop() });
      metrics.onScrape(() => sampleActivityQueues(hub, metrics));
      const metricsServer =
        options.metricsPort === undefined
          ? undefined
          : await (await import('./metrics-server.js')).startMetricsServer({
              port: options.metricsPort,
              ...(options.metricsHost ? { host: options.metricsHost } : {}),
              registry: metrics.registry,
              health: () => ({ ok: hub.fabric.isConnected(), worker: id, partitions: leases.ownedPartitions() }),
            });
      logger.info({ partitions: hub.config.partitions, entities: [...entities.keys()], ...(metricsServer ? { metricsUrl: metricsServer.url } : {}) }, 'worker started');
      return new Worker(id, hub, nats?.close, leases, orchestrationRuntime, metrics, logger, metricsServer, instanceRetention);
    } catch (e) {
      logger.error({ err: e }, 'worker failed to start; stopping what it started');
      for (const u of undo.reverse()) {
        await u.run().catch((err) => logger.warn({ err, what: u.what }, 'cleanup after a failed start failed'));
      }
      await nats?.close().catch(() => undefined);
      throw e;
    }
  }

  /** Partitions this worker currently owns. */
  get partitions(): number[] {
    return this.leases.ownedPartitions();
  }

  /**
   * True while this worker holds work: a partition batch in flight or buffered, due timers being
   * published, activities held, starts being routed. What waits in the store is not counted (the
   * test kit's idle detection asks its in-memory store for that).
   */
  isBusy(): boolean {
    return this.leases.isBusy() || this.orchestrationRuntime.isBusy();
  }

  /** Drains and disconnects. */
  async stop(): Promise<void> {
    // Activities first: their results go to inboxes that the partitions below still process.
    await this.orchestrationRuntime.stopIntake();
    await this.instanceRetention?.stop();
    await this.leases.stop();
    await this.closeOwned?.();
    await this.metricsServer?.close();
    this.logger.info('worker stopped');
  }
}

async function readRuntimeStatus(hub: Hub, instanceId: string): Promise<string | undefined> {
  const e = await hub.kv.status.get(statusKey(instanceId));
  if (!e || e.value.length === 0) return undefined;
  return decodeStatusRecord(e.value).runtimeStatus;
}

/** Activity queue gauges from the activity consumers of the hub (every activity, not only ours). */
async function sampleActivityQueues(hub: Hub, metrics: WorkerMetrics): Promise<void> {
  for (const q of await hub.fabric.workQueues(hub.names.activityStream)) {
    if (!q.name.startsWith('act-')) continue;
    let activity: string;
    try {
      activity = decodeToken(q.name.slice(4));
    } catch {
      activity = q.name;
    }
    metrics.activityQueueDepth.set({ activity }, q.pending);
    metrics.activityInFlight.set({ activity }, q.ackPending);
  }
}

/** Versions kept per entity: an integer of at least 1 (the latest is always kept). */
function retentionVersions(n: number | undefined): number {
  if (n === undefined) return DEFAULT_KEEP_VERSIONS;
  if (!Number.isInteger(n) || n < 1) throw new DurableError('validation', `retention.entityVersions must be an integer >= 1, got ${n}`);
  return n;
}
