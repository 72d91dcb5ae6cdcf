/**
 * Parameter grammars shared by the HTTP API and the CLI: durations as people type them (`30s`,
 * `2m`, `1500ms`, `1h`) and runtime-status lists (`Running,pending`).
 * Invariant: one grammar for both, so a value that works in a URL works on the command line
 * (only a bare number's unit is the caller's choice).
 */
import { RUNTIME_STATUSES, type RuntimeStatus } from '../client/status.js';
import { DurableError } from '../core/errors.js';

/** `30s`, `2m`, `500ms`, `1h`, or a plain number in `defaultUnit`; undefined if malformed. */
export function parseDuration(text: string, defaultUnit: 'ms' | 's' = 'ms'): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? defaultUnit).toLowerCase();
  const factor = unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1_000 : 1;
  return Math.round(Number(m[1]) * factor);
}

/**
 * Comma-separated statuses (any case; repeated values allowed) -> RuntimeStatus[], or undefined
 * when empty. An unknown status is a validation error naming the valid ones.
 */
export function parseStatusList(values: string | string[]): RuntimeStatus[] | undefined {
  const parts = (Array.isArray(values) ? values : [values])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const out = parts.map((p) => {
    const match = RUNTIME_STATUSES.find((s) => s.toLowerCase() === p.toLowerCase());
    if (!match) throw new DurableError('validation', `unknown status '${p}' (one of ${RUNTIME_STATUSES.join(', ')})`);
    return match;
  });
  return out.length > 0 ? out : undefined;
}
