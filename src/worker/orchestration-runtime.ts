/**
 * OrchestrationRuntime: the orchestration side of a worker, assembled: the instance host (an
 * ActorHost for the partition batch loop), the activity runner and the start router, plus the
 * message shapes entities use to answer orchestrations.
 */
import type { Logger } from 'pino';
import { DurableError } from '../core/errors.js';
import { instanceMessages } from '../orchestration/messages.js';
import type { CallOutcome } from '../entity/messages.js';
import type { ActivityDefinition, OrchestrationDefinition } from '../orchestration/definition.js';
import type { Hub } from '../store/hub.js';
import type { StartupRetryOptions } from '../store/startup.js';
import type { ActorHost } from './actor-host.js';
import { ActivityRunner } from './activity-runner.js';
import type { CatalogEntry } from './catalog.js';
import type { LocalActivities } from './local-activities.js';
import type { OrchestrationMessageFactory } from './entity-host.js';
import type { WorkerMetrics } from './metrics.js';
import { OrchestrationHost } from './orchestration-host.js';
import { StartRouter } from './start-router.js';

export interface OrchestrationRuntimeOptions {
  hub: Hub;
  logger: Logger;
  metrics: WorkerMetrics;
  orchestrations: OrchestrationDefinition[];
  activities: ActivityDefinition[];
  cacheSize: number;
  activityConcurrency: number;
  activityAckWaitMs: number;
  /** Most activities handed over by local partitions at a time (0: none). */
  localActivityBacklog: number;
  /** For span attributes. */
  workerId?: string;
}

export interface OrchestrationRuntime {
  host: ActorHost;
  /** Runs the partitions' activity work items in-process (local dispatch). */
  localActivities: LocalActivities;
  messages: OrchestrationMessageFactory;
  catalog(): CatalogEntry[];
  /** Binds the activity and start consumers; transient errors are retried until the start-up deadline. */
  start(startup?: StartupRetryOptions): Promise<void>;
  /** Stops taking new activities and starts; running activities finish. */
  stopIntake(): Promise<void>;
  /** Activities held or starts being routed. */
  isBusy(): boolean;
}

export const orchestrationMessages: OrchestrationMessageFactory = {
  start: (name, instanceId, input) => instanceMessages.started({ name, instanceId, mode: 'ifNotExists', ...(input === undefined ? {} : { input }) }),
  entityResponse: (requestId: number, outcome: CallOutcome, runId?: string) => instanceMessages.entityResponded(requestId, outcome, runId),
  lockGranted: (lockId: number, runId?: string) => instanceMessages.lockGranted(lockId, runId),
};

function byName<T extends { name: string }>(defs: T[], kind: string): Map<string, T> {
  const map = new Map<string, T>();
  for (const d of defs) {
    if (map.has(d.name)) throw new DurableError('validation', `${kind} '${d.name}' registered twice`);
    map.set(d.name, d);
  }
  return map;
}

export function createOrchestrationRuntime(o: OrchestrationRuntimeOptions): OrchestrationRuntime {
  const orchestrations = byName(o.orchestrations, 'orchestration');
  const activities = byName(o.activities, 'activity');
  const runner = new ActivityRunner({
    hub: o.hub,
    logger: o.logger,
    metrics: o.metrics,
    activities,
    concurrency: o.activityConcurrency,
    ackWaitMs: o.activityAckWaitMs,
    workerId: o.workerId,
    localBacklog: o.localActivityBacklog,
  });
  const host = new OrchestrationHost(o.hub, { orchestrations }, o.logger, o.metrics, o.cacheSize, o.workerId, o.localActivityBacklog > 0 ? runner : undefined);
  const router = new StartRouter(o.hub, o.logger);
  const now = () => new Date(o.hub.fabric.clock.now()).toISOString();
  return {
    host,
    localActivities: runner,
    messages: orchestrationMessages,
    catalog: () => [
      ...[...orchestrations.keys()].map((name) => ({ kind: 'orchestration' as const, name, updatedAt: now() })),
      ...[...activities.keys()].map((name) => ({ kind: 'activity' as const, name, updatedAt: now() })),
    ],
    async start(startup) {
      await runner.start(startup);
      await router.start(startup);
    },
    async stopIntake() {
      await router.stop();
      await runner.stop();
    },
    isBusy: () => runner.busy || router.busy,
  };
}
