/**
 * The orchestration module's surface: definitions, the context and tasks users see, and the
 * pure executor and instance runtime the worker drives.
 * Invariant: nothing here does I/O or reads clocks or randomness; the worker supplies events and time.
 */
export { activity, orchestration } from './definition.js';
export type { ActivityContext, ActivityDefinition, ActivityFunction, OrchestrationDefinition, OrchestrationFunction } from './definition.js';
export { OrchestrationContext } from './context.js';
export type { EntityLock, EntityRef, LogLevel, OrchestrationLogger, ReplaySafeLog } from './context.js';
export { Task, TimerTask } from './tasks.js';
export type { TaskResult } from './tasks.js';
export type { RetryPolicy } from './retry.js';
export { retryDelayMs } from './retry.js';
export { OrchestrationExecutor } from './executor.js';
export type { ExecutionStatus, ExecutorOptions, ExecutorState } from './executor.js';
export { InstanceRuntime } from './instance.js';
export type { OrchestrationRegistry, ProcessResult } from './instance.js';
export { summarizeHistory, hasRunEnded, isTerminalStatus, RUNTIME_STATUSES } from './status.js';
export type { FailureDetails, InstanceStatus, RuntimeStatus } from './status.js';
export { describeStep, isSequenced, isTerminalEvent } from './history.js';
export type { HistoryEvent, HistoryEventFields, HistoryEventOf, HistoryEventType, ParentRef, SequencedEvent, StartMode } from './history.js';
export type {
  CreateTimerAction,
  NotifyParentAction,
  OrchestratorAction,
  ScheduleActivityAction,
  SendEntityMessageAction,
  SendEventAction,
  StartSubOrchestrationAction,
} from './actions.js';
export { actionsFromEvents } from './actions.js';
export { uuidV5 } from './guid.js';
