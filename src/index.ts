/**
 * durable-nats: durable entities and orchestrations on NATS JetStream. The public surface
 * (../shared/API.md); everything else is internal.
 */
export { DurableError, ERROR_CODES, type DurableErrorCode, type ErrorInfo } from './core/errors.js';
export { EntityId } from './core/entity-id.js';
export { startSubject, DEFAULT_HUB, DEFAULT_PARTITIONS } from './core/topology.js';
export { signalSubject } from './core/protocol.js';
export { entity, type EntityDefinition, type EntityContext, type EntityOptions, type OperationHandler } from './entity/definition.js';
export { Worker, type WorkerOptions } from './worker/worker.js';
export { DurableClient, type DurableClientOptions, type EntityState, type ListEntitiesOptions } from './client/client.js';
export { type OrchestrationStatus, type RuntimeStatus, RUNTIME_STATUSES } from './client/status.js';
export type { ListInstancesOptions, PurgeFilter } from './client/instance-client.js';
export {
  orchestration,
  activity,
  type OrchestrationDefinition,
  type ActivityDefinition,
  type OrchestrationFunction,
  type ActivityFunction,
  type ActivityContext,
} from './orchestration/definition.js';
export type { OrchestrationContext } from './orchestration/context.js';
export { createHttpServer, type HttpServer, type HttpServerOptions } from './http/index.js';
export type { EntityVersion, EntityHistoryEntry, EntityHistoryOptions, EntityHistoryPage } from './client/entity-history.js';
export type { ScheduleOptions, ScheduleAction, ScheduleInfo } from './schedule/definition.js';
