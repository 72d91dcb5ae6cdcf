/**
 * zod schemas of route params and query strings, and the one `parse` helper every route uses.
 *
 * Invariant: whatever fails a schema is a DurableError('validation') (so a 400 with a message
 * naming the field), raised before the client is called, so nothing is written.
 */
import { z, type ZodType } from 'zod';
import { DurableError } from '../core/errors.js';
import { parseDuration, parseStatusList } from './params.js';

/** Parses `value` with `schema`, or throws a validation error naming `what` and the field. */
export function parse<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue && issue.path.length > 0 ? ` '${issue.path.join('.')}'` : '';
  throw new DurableError('validation', `invalid ${what}${field}: ${issue?.message ?? 'malformed'}`);
}

export const instanceId = z.string().min(1, 'must not be empty').max(512, 'longer than 512 characters');
const name = z.string().min(1, 'must not be empty').max(256, 'longer than 256 characters');

/** 'true'/'1' are true, 'false'/'0' are false; absent is `undefined` (callers pick the default). */
export const queryBool = z
  .enum(['true', 'false', '1', '0', 'True', 'False', ''])
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v === 'true' || v === 'True' || v === '1'));

const isoDate = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: `'${v}' is not a date (use ISO 8601)` });
      return z.NEVER;
    }
    return d;
  });

/** DF sends `runtimeStatus=Running,Pending`; repeated parameters are accepted too. */
const statusList = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      return parseStatusList(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

const positiveInt = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) {
      ctx.addIssue({ code: 'custom', message: 'must be an integer in 1..10000' });
      return z.NEVER;
    }
    return n;
  });

/** Longest a request may wait (long poll, start-and-wait). */
export const MAX_WAIT_MS = 10 * 60_000;

const duration = (defaultUnit: 'ms' | 's') =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const ms = parseDuration(v, defaultUnit);
      if (ms === undefined || ms > MAX_WAIT_MS) {
        ctx.addIssue({ code: 'custom', message: `'${v}' is not a duration up to ${MAX_WAIT_MS / 60_000}m (e.g. 30s, 2m, 1500)` });
        return z.NEVER;
      }
      return ms;
    });

export const instanceParams = z.object({ instanceId });
export const startParams = z.object({ name, instanceId: instanceId.optional() });
export const eventParams = z.object({ instanceId, eventName: name });
export const entityParams = z.object({ name, key: z.string().min(1, 'must not be empty') });
export const entityListParams = z.object({ name: name.optional() });

export const statusQuery = z.object({
  showHistory: queryBool,
  showHistoryOutput: queryBool,
  showInput: queryBool,
  /** Non-DF: long poll. A plain number is milliseconds. */
  waitForCompletion: duration('ms'),
});

/** DF's start-and-wait (`createAndWaitOnNewInstancePostUri`): `timeout` is in seconds. */
export const startQuery = z.object({ timeout: duration('s') });

export const listQuery = z.object({
  runtimeStatus: statusList,
  createdTimeFrom: isoDate,
  createdTimeTo: isoDate,
  instanceIdPrefix: z.string().optional(),
  namePrefix: z.string().optional(),
  top: positiveInt,
  pageSize: positiveInt,
  continuationToken: z.string().optional(),
  showInput: queryBool,
});

export const purgeQuery = z.object({ runtimeStatus: statusList, createdTimeFrom: isoDate, createdTimeTo: isoDate });
export const reasonQuery = z.object({ reason: z.string().max(4096).optional() });
export const restartQuery = z.object({ restartWithNewInstanceId: queryBool });
export const signalQuery = z.object({ op: name });
export const callQuery = z.object({ op: name, timeout: duration('ms') });
export const entityListQuery = z.object({ fetchState: queryBool, top: positiveInt, continuationToken: z.string().optional() });
