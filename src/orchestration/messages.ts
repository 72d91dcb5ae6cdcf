/**
 * The wire shapes of everything sent to an orchestration instance's inbox, of activity work items
 * and of raw starts: one zod schema per kind and one typed builder per message, used by every
 * sender (client, entities, activities, timers, the start router, other instances). The entity
 * counterpart is src/entity/messages.ts.
 *
 * Invariant: a message that fails its schema is dead-lettered by the worker with the schema's
 * reason, never applied and never fatal; senders build messages only through these builders.
 */
import { z } from 'zod';
import type { ErrorInfo } from '../core/errors.js';
import type { HistoryEvent, ParentRef, StartMode } from './history.js';

const errorInfo = z.object({
  message: z.string(),
  errorType: z.string(),
  code: z.string().optional(),
  stack: z.string().optional(),
});
const runId = z.string().optional();
const parent = z.object({ instanceId: z.string().min(1), taskId: z.number().int(), runId: z.string().optional() });

/** Messages an instance accepts in its inbox, by `type` (history events that come from outside). */
export const orchestrationMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ExecutionStarted'),
    name: z.string().min(1),
    instanceId: z.string().min(1),
    input: z.unknown().optional(),
    parent: parent.optional(),
    runId,
    mode: z.enum(['replaceTerminal', 'ifNotExists']).optional(),
  }),
  z.object({ type: z.literal('EventRaised'), name: z.string().min(1), data: z.unknown().optional() }),
  z.object({ type: z.literal('ExecutionTerminated'), reason: z.unknown().optional() }),
  z.object({ type: z.literal('ExecutionSuspended'), reason: z.string().optional() }),
  z.object({ type: z.literal('ExecutionResumed'), reason: z.string().optional() }),
  z.object({ type: z.literal('ExecutionRewound'), reason: z.string().optional() }),
  z.object({ type: z.literal('TaskCompleted'), taskId: z.number().int(), result: z.unknown().optional(), runId }),
  z.object({ type: z.literal('TaskFailed'), taskId: z.number().int(), failure: errorInfo, runId }),
  z.object({ type: z.literal('SubOrchestrationCompleted'), taskId: z.number().int(), result: z.unknown().optional(), runId }),
  z.object({ type: z.literal('SubOrchestrationFailed'), taskId: z.number().int(), failure: errorInfo, runId }),
  z.object({ type: z.literal('TimerFired'), timerId: z.number().int(), fireAt: z.string(), runId }),
  z.object({ type: z.literal('EntityResponded'), requestId: z.number().int(), result: z.unknown().optional(), failure: errorInfo.optional(), runId }),
  z.object({ type: z.literal('EntityLockGranted'), lockId: z.number().int(), runId }),
]);

export type OrchestrationMessage = z.infer<typeof orchestrationMessageSchema>;

/** Parses an inbox body; the error says why it is not an orchestration message. */
export function parseOrchestrationMessage(body: unknown): { ok: true; message: HistoryEvent } | { ok: false; reason: string } {
  const check = orchestrationMessageSchema.safeParse(body);
  if (!check.success) {
    return { ok: false, reason: `not an orchestration message: ${check.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}` };
  }
  // Stamped by the replay engine when appended (eventId -1: it comes from outside).
  return { ok: true, message: { ...check.data, eventId: -1 } as unknown as HistoryEvent };
}

const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } => (value === undefined ? {} : ({ [key]: value } as { [P in K]?: V }));

/** Builders: the only way durable-nats writes these messages. */
export const instanceMessages = {
  started: (o: { name: string; instanceId: string; input?: unknown; parent?: ParentRef; runId?: string; mode: StartMode }) => ({
    type: 'ExecutionStarted' as const,
    name: o.name,
    instanceId: o.instanceId,
    mode: o.mode,
    ...opt('input', o.input),
    ...opt('parent', o.parent),
    ...opt('runId', o.runId),
  }),
  eventRaised: (name: string, data?: unknown) => ({ type: 'EventRaised' as const, name, ...opt('data', data) }),
  terminated: (reason?: unknown) => ({ type: 'ExecutionTerminated' as const, ...opt('reason', reason) }),
  suspended: (reason?: string) => ({ type: 'ExecutionSuspended' as const, ...opt('reason', reason) }),
  resumed: (reason?: string) => ({ type: 'ExecutionResumed' as const, ...opt('reason', reason) }),
  rewound: (reason?: string) => ({ type: 'ExecutionRewound' as const, ...opt('reason', reason) }),
  taskCompleted: (taskId: number, result: unknown, run?: string) => ({ type: 'TaskCompleted' as const, taskId, ...opt('result', result), ...opt('runId', run) }),
  taskFailed: (taskId: number, failure: ErrorInfo, run?: string) => ({ type: 'TaskFailed' as const, taskId, failure, ...opt('runId', run) }),
  timerFired: (timerId: number, fireAt: string, run?: string) => ({ type: 'TimerFired' as const, timerId, fireAt, ...opt('runId', run) }),
  entityResponded: (requestId: number, outcome: { ok: boolean; result?: unknown; error?: ErrorInfo }, run?: string) => ({
    type: 'EntityResponded' as const,
    requestId,
    ...opt('runId', run),
    ...(outcome.ok ? opt('result', outcome.result) : opt('failure', outcome.error)),
  }),
  lockGranted: (lockId: number, run?: string) => ({ type: 'EntityLockGranted' as const, lockId, ...opt('runId', run) }),
};

/** An activity work item on the activity stream (short keys: one per activity run). */
export const activityWorkItemSchema = z.object({
  /** Instance id. */
  i: z.string().min(1),
  /** Run id of the instance, when it has one. */
  r: z.string().optional(),
  /** Task id within the run. */
  t: z.number().int(),
  /** Activity name. */
  n: z.string().min(1),
  /** Attempt (retries). */
  a: z.number().int(),
  in: z.unknown().optional(),
});

export type ActivityWorkItem = z.infer<typeof activityWorkItemSchema>;

export function activityWorkItem(o: { instanceId: string; runId?: string; taskId: number; name: string; attempt: number; input?: unknown }): ActivityWorkItem {
  return { i: o.instanceId, t: o.taskId, n: o.name, a: o.attempt, ...opt('r', o.runId), ...opt('in', o.input) };
}

/** A raw producer's start (`<hub>.start.<name>`): `{ "instanceId"?: "...", "input"?: ... }`. */
export const rawStartSchema = z.object({
  instanceId: z.string().min(1).max(512).optional(),
  input: z.unknown().optional(),
});
