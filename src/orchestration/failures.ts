/**
 * The errors an orchestration sees or ends with: task failures thrown into the generator,
 * non-determinism, termination.
 * Invariant: built only from data in history (ErrorInfo, step descriptions), never from live
 * objects, so a replay throws the same error with the same message.
 */
import { DurableError, type ErrorInfo } from '../core/errors.js';
import { describeStep, type SequencedEvent } from './history.js';

/**
 * The error thrown into the generator when a task failed: code `operation-failed`, the failure's
 * own message, and its errorType (and code, if it had one) in `details`.
 */
export function taskFailure(info: ErrorInfo): DurableError {
  const details: Record<string, unknown> = { errorType: info.errorType };
  if (info.code) details.code = info.code;
  const err = new DurableError('operation-failed', info.message, { details });
  if (info.stack) err.stack = info.stack;
  return err;
}

/** What the code did at a step where history says something else happened. */
export type ActualStep = SequencedEvent | 'waiting' | 'finished';

/** `expected callActivity('sayhello') at step 3 but code did createTimer`. */
export function nondeterminismError(name: string, instanceId: string, expected: SequencedEvent, actual: ActualStep): DurableError {
  const did = actual === 'waiting' ? 'nothing (it was waiting for other tasks)' : actual === 'finished' ? 'nothing (it had already returned)' : describeStep(actual);
  const message =
    `non-deterministic orchestration '${name}' (instance '${instanceId}'): history expected ` + `${describeStep(expected)} at step ${expected.eventId} but code did ${did}`;
  return new DurableError('nondeterminism', message, {
    details: { step: expected.eventId, expected: describeStep(expected), actual: did },
  });
}

/** The ErrorInfo a run fails with on non-determinism (errorType 'NonDeterminismError'). */
export function nondeterminismInfo(err: DurableError): ErrorInfo {
  return { message: err.message, errorType: 'NonDeterminismError', code: 'nondeterminism' };
}

/** What a parent sees when its child was terminated. */
export function terminatedInfo(reason: unknown): ErrorInfo {
  const text = reason === undefined ? '' : `: ${typeof reason === 'string' ? reason : JSON.stringify(reason)}`;
  return { message: `sub-orchestration terminated${text}`, errorType: 'TerminatedError' };
}
