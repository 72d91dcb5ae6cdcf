/**
 * replayHistory: the safe-deploy check. Replays a history recorded by a hub (any hub, any version
 * of the code) through today's definition with the engine's own pure executor, without running
 * activities, timers or anything else.
 *
 * Invariant: a history passes only if today's code, fed the recorded events, takes exactly the
 * recorded steps and nothing more. The worker persists each inbound event together with every
 * event the code produced in response (one record), so a persisted history always ends at a point
 * where the recorded code had nothing more to do: a step (or a return) that today's code takes
 * beyond the end is a divergence, as is a recorded completion that today's code no longer waits for.
 */
import { DurableError } from '../core/errors.js';
import { normalizeName } from '../core/names.js';
import type { OrchestrationDefinition } from '../orchestration/definition.js';
import { OrchestrationExecutor } from '../orchestration/executor.js';
import { describeStep, isSequenced, type HistoryEvent, type HistoryEventOf } from '../orchestration/history.js';
import type { FailureDetails, RuntimeStatus } from '../orchestration/status.js';

/** What a matching replay reached. */
export interface ReplaySummary {
  instanceId: string;
  /** The orchestration name recorded in the history. */
  name: string;
  /** The status today's code reaches at the end of the history (equal to the recorded one). */
  runtimeStatus: RuntimeStatus;
  output?: unknown;
  customStatus?: unknown;
  failureDetails?: FailureDetails;
  /** History events replayed. */
  events: number;
  /** Steps (activities, timers, sub-orchestrations, entity messages, ...) matched one by one. */
  steps: number;
}

/**
 * What `replayHistory` accepts: the `history` array of `getStatus(id, { showHistory: true })`,
 * or that whole status (what `durable-nats status <id> --history --json` prints).
 */
export type RecordedHistory = readonly unknown[] | { readonly history?: readonly unknown[] };

/**
 * Replays `history` against `definition`. Throws DurableError `nondeterminism` (details: `step`,
 * `expected`, `actual`) when the code no longer matches, `validation` when the history is not one
 * (or is another orchestration's). Never runs activities: their recorded results are replayed.
 * @example
 * const status = await client.getStatus(id, { showHistory: true });
 * replayHistory(orderFlow, status!.history!); // in CI, with histories exported from production
 */
export function replayHistory(definition: OrchestrationDefinition, history: RecordedHistory): ReplaySummary {
  const events = parseHistory(history);
  const start = events[0] as HistoryEventOf<'ExecutionStarted'>;
  if (normalizeName(start.name, 'orchestration') !== normalizeName(definition.name, 'orchestration')) {
    throw new DurableError('validation', `the history is of orchestration '${start.name}', not '${definition.name}'`);
  }
  const ex = new OrchestrationExecutor(definition, start.instanceId);
  // Event by event, so that a divergence is reported at the event that revealed it.
  for (const [i, e] of events.entries()) {
    const { ignored } = ex.apply([e], true);
    const failure = ex.state.failure;
    if (failure?.code === 'nondeterminism' && isSequenced(e)) throw fromEngine(failure.message, e);
    if (ignored.length > 0) {
      throw divergence(start, `history has ${describeEvent(e)} at position ${i} that today's code does not accept (it no longer waits for it)`, {
        position: i,
        expected: describeEvent(e),
        actual: 'nothing (the event is not awaited)',
      });
    }
  }
  const beyond = ex.takeNew().events;
  const extra = beyond[0];
  if (extra) {
    const steps = beyond.filter(isSequenced);
    const did = steps[0] ? describeStep(steps[0]) : describeEvent(extra);
    throw divergence(start, `the history ends here (the recorded code had nothing more to do) but code did ${did}`, {
      step: steps[0]?.eventId ?? null,
      expected: 'nothing (end of history)',
      actual: did,
    });
  }
  return summarize(ex, start, events);
}

/** Accepts the array or the status holding it; checks the shape enough for the engine to trust it. */
function parseHistory(input: RecordedHistory): HistoryEvent[] {
  const list = Array.isArray(input) ? input : (input as { history?: unknown }).history;
  if (!Array.isArray(list) || list.length === 0) {
    throw new DurableError('validation', 'replayHistory needs a non-empty history: getStatus(id, { showHistory: true }).history');
  }
  for (const [i, e] of list.entries()) {
    const ok =
      typeof e === 'object' &&
      e !== null &&
      typeof (e as { type?: unknown }).type === 'string' &&
      typeof (e as { eventId?: unknown }).eventId === 'number' &&
      typeof (e as { timestamp?: unknown }).timestamp === 'string';
    if (!ok) throw new DurableError('validation', `history event ${i} is not a history event ({ type, eventId, timestamp, ... })`);
  }
  const first = list[0] as HistoryEvent;
  if (first.type !== 'ExecutionStarted') {
    throw new DurableError('validation', `a history starts with ExecutionStarted, this one with ${first.type}`);
  }
  return list as HistoryEvent[];
}

/**
 * The engine keeps only the ErrorInfo of a nondeterminism failure (it is persisted); its message is
 * built by failures.ts `nondeterminismError` ("... expected X at step N but code did Y"), so the
 * details are recovered from the event that failed and the message's tail.
 */
function fromEngine(message: string, e: HistoryEvent & { eventId: number }): DurableError {
  const seq = e as Parameters<typeof describeStep>[0];
  const actual = /but code did (.*)$/s.exec(message)?.[1] ?? 'something else';
  return new DurableError('nondeterminism', message, { details: { step: e.eventId, expected: describeStep(seq), actual } });
}

function divergence(start: HistoryEventOf<'ExecutionStarted'>, what: string, details: Record<string, unknown>): DurableError {
  return new DurableError('nondeterminism', `non-deterministic orchestration '${start.name}' (instance '${start.instanceId}'): ${what}`, { details });
}

/** `TaskCompleted (task 3)`: how an unsequenced event is named in messages. */
function describeEvent(e: HistoryEvent): string {
  if (isSequenced(e)) return describeStep(e);
  const id =
    'taskId' in e
      ? ` (task ${e.taskId})`
      : 'timerId' in e
        ? ` (timer ${e.timerId})`
        : 'requestId' in e
          ? ` (request ${e.requestId})`
          : 'lockId' in e
            ? ` (lock ${e.lockId})`
            : e.type === 'EventRaised'
              ? ` ('${e.name}')`
              : '';
  return `${e.type}${id}`;
}

function summarize(ex: OrchestrationExecutor, start: HistoryEventOf<'ExecutionStarted'>, events: HistoryEvent[]): ReplaySummary {
  const s = ex.state;
  const runtimeStatus: RuntimeStatus = s.status === 'Running' && s.suspended ? 'Suspended' : s.status;
  const out: ReplaySummary = {
    instanceId: start.instanceId,
    name: start.name,
    runtimeStatus,
    events: events.length,
    steps: events.filter(isSequenced).length,
  };
  if (s.status === 'Completed' || s.status === 'Terminated') out.output = s.output;
  if (s.customStatus !== undefined) out.customStatus = s.customStatus;
  if (s.failure) out.failureDetails = { message: s.failure.message, errorType: s.failure.errorType, ...(s.failure.stack ? { stack: s.failure.stack } : {}) };
  return out;
}
