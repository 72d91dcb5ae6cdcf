/**
 * OrchestrationStatus: the public view of an instance (API.md), stored by the owning worker in
 * the status bucket after every committed step, and read or watched by clients.
 */
import type { ErrorInfo } from '../core/errors.js';

export const RUNTIME_STATUSES = ['Pending', 'Running', 'Completed', 'ContinuedAsNew', 'Failed', 'Terminated', 'Suspended'] as const;
export type RuntimeStatus = (typeof RUNTIME_STATUSES)[number];

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

/** Terminal: the run will not change again (until a restart or a new start with the same id). */
export function isTerminal(s: RuntimeStatus): boolean {
  return s === 'Completed' || s === 'Failed' || s === 'Terminated';
}

export function failureDetails(f: ErrorInfo | undefined): OrchestrationStatus['failureDetails'] | undefined {
  if (!f) return undefined;
  return { message: f.message, errorType: f.errorType, ...(f.stack ? { stack: f.stack } : {}) };
}

/** Parses a stored status record, dropping internal bookkeeping (`_v`: the history position it reflects). */
export function decodeStatusRecord(value: Uint8Array): OrchestrationStatus {
  const { _v, ...status } = JSON.parse(new TextDecoder().decode(value)) as OrchestrationStatus & { _v?: number };
  return status;
}
