/**
 * OrchestrationRuntime: the worker side of orchestrations (instance host, activity runner, start
 * router). Placeholder until the replay engine lands: instance messages are dead-lettered.
 */
import type { Logger } from 'pino';
import type { CallOutcome } from '../entity/messages.js';
import type { Hub } from '../store/hub.js';
import type { LeanPublisher } from '../store/lean-publisher.js';
import type { ActorHost } from './actor-host.js';
import type { CatalogEntry } from './catalog.js';
import type { OrchestrationMessageFactory } from './entity-host.js';
import type { WorkerMetrics } from './metrics.js';

export interface OrchestrationRuntimeOptions {
  hub: Hub;
  publisher: LeanPublisher;
  logger: Logger;
  metrics: WorkerMetrics;
  orchestrations: Array<{ name: string }>;
  activities: Array<{ name: string }>;
  cacheSize: number;
  activityConcurrency: number;
}

export interface OrchestrationRuntime {
  host: ActorHost;
  messages: OrchestrationMessageFactory;
  catalog(): CatalogEntry[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createOrchestrationRuntime(o: OrchestrationRuntimeOptions): OrchestrationRuntime {
  return {
    host: {
      async prepare(_p, _token, messages) {
        return { effects: [], replies: [], deadLetters: messages.map((m) => ({ ...m, reason: 'orchestrations are not enabled on this worker' })), committed: () => undefined, applied: 0 };
      },
      invalidate() {},
    },
    messages: {
      start: (name: string, instanceId: string, input: unknown) => ({ type: 'ExecutionStarted', eventId: -1, timestamp: new Date().toISOString(), name, instanceId, input, mode: 'ifNotExists' }),
      entityResponse: (requestId: number, outcome: CallOutcome) => ({ type: 'EntityResponded', eventId: -1, timestamp: new Date().toISOString(), requestId, ...(outcome.ok ? { result: outcome.result } : { failure: outcome.error }) }),
      lockGranted: (lockId: number) => ({ type: 'EntityLockGranted', eventId: -1, timestamp: new Date().toISOString(), lockId }),
    },
    catalog: () => [
      ...o.orchestrations.map((d) => ({ kind: 'orchestration' as const, name: d.name, updatedAt: new Date().toISOString() })),
      ...o.activities.map((d) => ({ kind: 'activity' as const, name: d.name, updatedAt: new Date().toISOString() })),
    ],
    async start() {},
    async stop() {},
  };
}
