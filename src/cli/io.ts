/**
 * Output and argument helpers of the CLI. Invariant: with --json, stdout carries exactly one
 * JSON document and nothing else (progress and hints go to stderr), so scripts can pipe it.
 */
import { DurableError } from '../core/errors.js';
import type { RuntimeStatus } from '../client/status.js';
import { parseDuration, parseStatusList } from '../http/params.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value ?? null, null, 2)}\n`);
}

/** With `json`, the value; otherwise the human rendering. */
export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  if (json) printJson(value);
  else process.stdout.write(`${human()}\n`);
}

export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A plain-text table with padded columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A compact one-line rendering of a JSON value for tables. */
export function brief(value: unknown, max = 60): string {
  if (value === undefined) return '';
  const s = JSON.stringify(value) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Parses a --input / --data option; undefined when absent. */
export function jsonOption(text: string | undefined, option: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new DurableError('validation', `${option} must be JSON (e.g. ${option} '{"a":1}' or ${option} '"text"')`);
  }
}

export function durationOption(text: string | undefined, option: string, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text, 's');
  if (ms === undefined) throw new DurableError('validation', `${option} must be a duration such as 30s, 2m or 1500ms (a plain number is seconds)`);
  return ms;
}

export function dateOption(text: string | undefined, option: string): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new DurableError('validation', `${option} must be a date (ISO 8601)`);
  return d;
}

export function intOption(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new DurableError('validation', `${option} must be a positive integer`);
  return n;
}

export function statusListOption(text: string | undefined): RuntimeStatus[] | undefined {
  return text === undefined ? undefined : parseStatusList(text);
}
