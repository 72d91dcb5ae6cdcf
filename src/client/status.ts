/**
 * OrchestrationStatus: the public view of an instance (API.md), stored by the owning worker in
 * the status bucket after every committed step, and read or watched by clients.
 */
import { isTerminalStatus, RUNTIME_STATUSES, type RuntimeStatus } from '../orchestration/status.js';

// One definition of the runtime statuses and of "terminal", shared with the engine.
export { RUNTIME_STATUSES, type RuntimeStatus };

export interface OrchestrationStatus {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input?: unknown;
  output?: unknown;
  customStatus?: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  failureDetails?: { message: string; errorType: string; stack?: string };
  history?: unknown[];
}

/** Terminal: the instance will not change again (until a restart or a new start with the same id). */
export const isTerminal = isTerminalStatus;

/** Parses a stored status record, dropping internal bookkeeping (`_v`: the history position it reflects). */
export function decodeStatusRecord(value: Uint8Array): OrchestrationStatus {
  return decodeStatusEntry(value).status;
}

/**
 * A stored status record with its history position `_v` (0 when it carries none: a record
 * written before the worker's first step). Statuses are ordered by position, never by their
 * timestamps: those come from the clocks of different machines (client and workers).
 */
export function decodeStatusEntry(value: Uint8Array): { status: OrchestrationStatus; position: number } {
  const { _v, ...status } = JSON.parse(new TextDecoder().decode(value)) as OrchestrationStatus & { _v?: unknown };
  return { status, position: typeof _v === 'number' && Number.isFinite(_v) ? _v : 0 };
}

/**
 * Keeps a follower from going backwards when a write older than the one it has seen arrives
 * late (the subscription is in place before the current value is read, so both can deliver).
 * A record is newer only at a strictly higher position: each committed step moves the position,
 * and a rewrite at the same position changes nothing but the time. Records without a position
 * (0) are taken in arrival order, since nothing better is known about them.
 */
export class StatusOrder {
  private last = -1;

  accept(position: number): boolean {
    if (position < this.last || (position === this.last && position !== 0)) return false;
    this.last = position;
    return true;
  }
}
