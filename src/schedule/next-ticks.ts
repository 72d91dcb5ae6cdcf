/**
 * Tick arithmetic of schedules, with croner for cron expressions. Pure: every function takes the
 * time it reasons from as an argument (the engine's clock), never Date.now().
 * Invariant: ticks are strictly increasing, and latestDue never returns a tick after `now`
 * (except the due tick itself when a clock lags it), so a late timer fires one tick, not a burst.
 */
import { Cron } from 'croner';
import { DurableError } from '../core/errors.js';
import type { ScheduleDefinition } from './definition.js';

/** Most cron ticks walked to find the latest missed one (an every-minute schedule down for ~70 days). */
const MAX_WALK = 100_000;

const cronCache = new Map<string, Cron>();

function cronOf(expr: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ''}|${expr}`;
  let c = cronCache.get(key);
  if (!c) {
    c = new Cron(expr, { paused: true, ...(timezone ? { timezone } : { timezone: 'UTC' }) });
    if (cronCache.size > 1000) cronCache.clear();
    cronCache.set(key, c);
  }
  return c;
}

/** Throws `validation` unless `expr` is a 5-field cron expression croner accepts in `timezone`. */
export function validateCron(expr: string, timezone?: string): void {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new DurableError('validation', `cron expression '${expr}' must have 5 fields (minute hour day-of-month month day-of-week)`);
  try {
    const c = new Cron(expr, { paused: true, timezone: timezone ?? 'UTC' });
    c.nextRun(new Date(0)); // an unknown timezone throws here
  } catch (e) {
    throw new DurableError('validation', `invalid cron expression '${expr}'${timezone ? ` in ${timezone}` : ''}: ${(e as Error).message}`);
  }
}

/** The first tick strictly after `after` (ms), within [startAt, endAt], or undefined. */
export function nextTick(def: ScheduleDefinition, after: number): number | undefined {
  let t: number | undefined;
  const from = def.startAt !== undefined ? Math.max(after, def.startAt - 1) : after;
  if (def.every !== undefined) {
    const base = def.startAt ?? 0;
    const k = from < base ? 0 : Math.floor((from - base) / def.every) + 1;
    t = base + k * def.every;
  } else {
    const d = cronOf(def.cron!, def.timezone).nextRun(new Date(from));
    t = d ? d.getTime() : undefined;
  }
  if (t === undefined || (def.endAt !== undefined && t > def.endAt)) return undefined;
  return t;
}

/** The next `n` ticks after `after`. */
export function nextTicks(def: ScheduleDefinition, after: number, n: number): number[] {
  const out: number[] = [];
  let t = after;
  while (out.length < n) {
    const next = nextTick(def, t);
    if (next === undefined) break;
    out.push(next);
    t = next;
  }
  return out;
}

/**
 * The latest tick in [due, now] (`due` itself if `now` is before it): a timer delivered late
 * (no worker ran) fires only the most recent missed tick.
 */
export function latestDue(def: ScheduleDefinition, due: number, now: number): number {
  if (now <= due) return due;
  if (def.every !== undefined) {
    const base = def.startAt ?? 0;
    const t = base + Math.floor((now - base) / def.every) * def.every;
    return Math.max(due, def.endAt !== undefined ? Math.min(t, lastEveryTickBefore(def, base, def.endAt)) : t);
  }
  let t = due;
  for (let i = 0; i < MAX_WALK; i++) {
    const next = nextTick(def, t);
    if (next === undefined || next > now) return t;
    t = next;
  }
  return t;
}

function lastEveryTickBefore(def: ScheduleDefinition, base: number, end: number): number {
  return base + Math.floor((end - base) / def.every!) * def.every!;
}
