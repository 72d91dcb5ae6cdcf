/**
 * A schedule's definition (what createSchedule accepts) and its durable state: pure data and
 * validation, no I/O, no clock.
 * Invariant: a definition that passes parseScheduleOptions always yields well-defined ticks
 * (a 5-field cron expression croner accepts in a timezone it knows, or a positive interval).
 */
import { z } from 'zod';
import { DurableError } from '../core/errors.js';
import { validateCron } from './next-ticks.js';

/** What a tick does: start an orchestration (instance id `<scheduleId>@<tick ISO>`) or signal an entity. */
export type ScheduleAction = { startNew: { name: string; input?: unknown } } | { signalEntity: { id: string; op: string; input?: unknown } };

export interface ScheduleOptions {
  /** 5-field cron expression (minute hour day-of-month month day-of-week). */
  cron?: string;
  /** IANA timezone of `cron` (default UTC). */
  timezone?: string;
  /** Interval in ms: ticks at startAt + k x every, or at multiples of `every` since the Unix epoch (every: 60_000 ticks on the minute). */
  every?: number;
  action: ScheduleAction;
  /** startNew only: 'skip' a tick while the last run is not terminal (default), or 'allow'. */
  overlap?: 'skip' | 'allow';
  startAt?: Date;
  endAt?: Date;
  paused?: boolean;
}

/** The definition as stored (dates as ms since epoch). */
export interface ScheduleDefinition {
  cron?: string;
  timezone?: string;
  every?: number;
  action: ScheduleAction;
  overlap: 'skip' | 'allow';
  startAt?: number;
  endAt?: number;
}

/** The schedule entity's state. */
export interface ScheduleState {
  def: ScheduleDefinition;
  paused: boolean;
  /** The tick its pending timer is for (ms); a tick message for any other time is stale. */
  nextTick?: number;
  /** The last run started (or signal sent). */
  lastRun?: { time: number; instanceId?: string; manual?: boolean };
  /** The last tick skipped because lastRun was still running (overlap 'skip'). */
  lastSkipped?: number;
  createdAt: number;
}

/** What getSchedule returns. */
export interface ScheduleInfo {
  id: string;
  cron?: string;
  timezone?: string;
  every?: number;
  action: ScheduleAction;
  overlap: 'skip' | 'allow';
  paused: boolean;
  startAt?: Date;
  endAt?: Date;
  nextRuns: Date[];
  lastRun?: { time: Date; instanceId?: string };
  /** The last tick skipped because lastRun had not finished (overlap 'skip'). */
  lastSkipped?: Date;
}

const date = z.union([z.date(), z.string().datetime({ offset: true }), z.number().int()]).transform((d) => new Date(d).getTime());

const actionSchema = z.union([
  z.object({ startNew: z.object({ name: z.string().min(1).max(256), input: z.unknown().optional() }).strict() }).strict(),
  z.object({ signalEntity: z.object({ id: z.string().min(3), op: z.string().min(1).max(256), input: z.unknown().optional() }).strict() }).strict(),
]);

export const scheduleOptionsSchema = z
  .object({
    cron: z.string().min(1).max(256).optional(),
    timezone: z.string().min(1).max(64).optional(),
    every: z
      .number()
      .int()
      .min(1)
      .max(366 * 86_400_000)
      .optional(),
    action: actionSchema,
    overlap: z.enum(['skip', 'allow']).optional(),
    startAt: date.optional(),
    endAt: date.optional(),
    paused: z.boolean().optional(),
  })
  .strict();

/** Schedule ids are entity keys and part of instance ids: printable, no '@'. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function validateScheduleId(id: unknown): string {
  if (typeof id !== 'string' || !ID.test(id)) throw new DurableError('validation', `schedule id must match ${ID.source}`);
  return id;
}

/** Validates createSchedule options; throws `validation` with the reason. */
export function parseScheduleOptions(options: unknown): { def: ScheduleDefinition; paused: boolean } {
  const r = scheduleOptionsSchema.safeParse(options);
  if (!r.success) throw new DurableError('validation', `invalid schedule: ${r.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`);
  const o = r.data;
  if ((o.cron === undefined) === (o.every === undefined)) throw new DurableError('validation', 'a schedule needs exactly one of `cron` or `every`');
  if (o.timezone !== undefined && o.cron === undefined) throw new DurableError('validation', '`timezone` applies to `cron` only');
  if (o.cron !== undefined) validateCron(o.cron, o.timezone);
  if (o.startAt !== undefined && o.endAt !== undefined && o.endAt < o.startAt) throw new DurableError('validation', '`endAt` is before `startAt`');
  if (o.overlap !== undefined && 'signalEntity' in o.action) throw new DurableError('validation', '`overlap` applies to startNew actions only');
  const def: ScheduleDefinition = {
    ...(o.cron !== undefined ? { cron: o.cron.trim() } : {}),
    ...(o.timezone !== undefined ? { timezone: o.timezone } : {}),
    ...(o.every !== undefined ? { every: o.every } : {}),
    action: o.action as ScheduleAction,
    overlap: o.overlap ?? 'skip',
    ...(o.startAt !== undefined ? { startAt: o.startAt } : {}),
    ...(o.endAt !== undefined ? { endAt: o.endAt } : {}),
  };
  return { def, paused: o.paused ?? false };
}

/** `<scheduleId>@<tick time, ISO 8601 UTC>`: the instance id of the run a tick starts. */
export const runInstanceId = (scheduleId: string, tick: number) => `${scheduleId}@${new Date(tick).toISOString()}`;
