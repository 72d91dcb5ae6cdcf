/**
 * The schedule system entity `@dn-schedule@<id>`, registered by every worker and hidden from
 * listEntities and the catalog. Its state is the definition + `nextTick` + `lastRun`; each tick is
 * a durable delayed signal to itself (`tick { tick }`), so schedules use only the engine's timers
 * and clock (ctx.currentUtcDateTime): the test kit's virtual clock drives them unchanged.
 *
 * Invariants ("a tick is an event"): a tick's action is an effect of the fenced event that
 * records it, so it goes out only after the tick is durable and is republished (same dedupe id)
 * by whoever takes over; a `tick` whose time is not `nextTick` is stale and ignored, so a
 * duplicate timer never fires twice; a late timer fires only the latest due tick.
 */
import { EntityId } from '../core/entity-id.js';
import { DurableError } from '../core/errors.js';
import { entity, type EntityContext, type EntityDefinition } from '../entity/definition.js';
import { runInstanceId, type ScheduleDefinition, type ScheduleState } from '../schedule/definition.js';
import { latestDue, nextTick } from '../schedule/next-ticks.js';

/** Entity name of schedules (reserved). */
export const SCHEDULE_ENTITY = 'dn-schedule';

/** A started run younger than this without a status record yet is taken as still running. */
const STATUS_GRACE_MS = 60_000;

export interface ScheduleEntityDeps {
  /**
   * The runtime status of an instance, or undefined if it has none. Read by `tick` for
   * `overlap: 'skip'`; its answer is recorded with the tick (lastRun.skipped), never re-asked.
   */
  runtimeStatus(instanceId: string): Promise<string | undefined>;
}

/** The entity state: `s` is absent before create (and the entity deleted after delete). */
export interface ScheduleEntityState {
  s?: ScheduleState;
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'ContinuedAsNew']);

/** The schedule entity definition for a worker. Handlers mutate the immer draft `d.s` in place. */
export function scheduleEntity(deps: ScheduleEntityDeps): EntityDefinition<ScheduleEntityState> {
  const required = (d: ScheduleEntityState, ctx: EntityContext): ScheduleState => {
    if (!d.s) throw new DurableError('not-found', `no schedule '${ctx.id.key}'`);
    return d.s;
  };
  return entity<ScheduleEntityState>(SCHEDULE_ENTITY, {
    state: () => ({}),
    operations: {
      create: (d, input: { def: ScheduleDefinition; paused: boolean }, ctx) => {
        if (d.s) throw new DurableError('instance-exists', `schedule '${ctx.id.key}' already exists`);
        const now = ctx.currentUtcDateTime.getTime();
        d.s = { def: input.def, paused: input.paused, createdAt: now };
        if (!d.s.paused) arm(d.s, ctx, now);
      },
      tick: async (d, input: { tick: number }, ctx) => {
        const s = d.s;
        if (!s) {
          ctx.deleteState();
          return;
        } // a timer left behind by a deleted schedule
        if (s.paused || input?.tick !== s.nextTick) return; // stale: re-armed or paused since
        const now = ctx.currentUtcDateTime.getTime();
        const fire = latestDue(s.def, s.nextTick, now);
        delete s.nextTick;
        await runAction(s, ctx, fire, deps, false);
        arm(s, ctx, Math.max(fire, now));
      },
      trigger: async (d, _input, ctx) => {
        const s = required(d, ctx);
        const instanceId = await runAction(s, ctx, ctx.currentUtcDateTime.getTime(), deps, true);
        return instanceId === undefined ? {} : { instanceId };
      },
      pause: (d, _input, ctx) => {
        // The pending timer stays; it is ignored when it arrives (paused), and resume re-arms.
        required(d, ctx).paused = true;
      },
      resume: (d, _input, ctx) => {
        const s = required(d, ctx);
        if (!s.paused) return;
        s.paused = false;
        delete s.nextTick;
        arm(s, ctx, ctx.currentUtcDateTime.getTime()); // ticks missed while paused are not run
      },
      delete: (d, _input, ctx) => {
        required(d, ctx);
        ctx.deleteState();
      },
      get: (d) => d.s ?? null,
    },
  });
}

/** Sets nextTick to the first tick after `after` and sends its timer (none past endAt). */
function arm(s: ScheduleState, ctx: EntityContext, after: number): void {
  const t = nextTick(s.def, after);
  if (t === undefined) return;
  s.nextTick = t;
  ctx.signalEntity(ctx.id, 'tick', { tick: t }, { at: new Date(t) });
}

/** Runs the action for tick `time` (or records why not) and returns the started instance id. */
async function runAction(s: ScheduleState, ctx: EntityContext, time: number, deps: ScheduleEntityDeps, manual: boolean): Promise<string | undefined> {
  const scheduleId = ctx.id.key;
  const action = s.def.action;
  if ('signalEntity' in action) {
    const { id, op, input } = action.signalEntity;
    // Dedupe id from the schedule and the tick: the target applies it once per tick.
    ctx.signalEntity(EntityId.parse(id), op, input, { idempotencyKey: `dn-schedule:${runInstanceId(scheduleId, time)}` });
    s.lastRun = { time, ...(manual ? { manual } : {}) };
    return undefined;
  }
  const instanceId = runInstanceId(scheduleId, time);
  if (!manual && s.def.overlap === 'skip' && s.lastRun?.instanceId) {
    if (await stillRunning(s.lastRun, time, deps)) {
      s.lastSkipped = time; // lastRun stays the run that is still going
      return undefined;
    }
  }
  // ifNotExists start (entity starts are): a republished effect or a second tick with the same
  // time never starts a second run.
  ctx.startNew(action.startNew.name, { instanceId, ...(action.startNew.input === undefined ? {} : { input: action.startNew.input }) });
  s.lastRun = { time, instanceId, ...(manual ? { manual } : {}) };
  return instanceId;
}

async function stillRunning(last: NonNullable<ScheduleState['lastRun']>, now: number, deps: ScheduleEntityDeps): Promise<boolean> {
  const status = await deps.runtimeStatus(last.instanceId!);
  if (status === undefined) return now - last.time < STATUS_GRACE_MS; // not written yet, or purged
  return !TERMINAL.has(status);
}
