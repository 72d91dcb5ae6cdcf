/**
 * Client side of schedules: each schedule is the system entity `@dn-schedule@<id>`, and every
 * method is an operation on it (through its inbox: serialized with its ticks).
 * Invariant: the definition is validated here (cron, timezone, action against the catalog)
 * before anything is written; the entity only stores what passed.
 */
import { EntityId } from '../core/entity-id.js';
import { DurableError } from '../core/errors.js';
import { normalizeName } from '../core/names.js';
import type { EntityMessage } from '../entity/messages.js';
import { parseScheduleOptions, validateScheduleId, type ScheduleInfo, type ScheduleOptions, type ScheduleState } from '../schedule/definition.js';
import { nextTicks } from '../schedule/next-ticks.js';
import { SCHEDULE_ENTITY, type ScheduleEntityState } from '../worker/schedule-entity.js';
import type { CatalogCache } from './catalog-cache.js';

/** What the schedule client needs of DurableClient. */
export interface ScheduleTransport {
  callRaw<T>(id: EntityId, message: EntityMessage, timeoutMs: number): Promise<T>;
  readEntityState<S>(id: EntityId): Promise<{ exists: boolean; state?: S }>;
  systemEntityIds(name: string): Promise<EntityId[]>;
}

const TIMEOUT_MS = 30_000;
const NEXT_RUNS = 5;

export class ScheduleClient {
  constructor(
    private readonly t: ScheduleTransport,
    private readonly catalog: CatalogCache,
  ) {}

  async create(id: string, options: ScheduleOptions): Promise<void> {
    const eid = scheduleEntityId(id);
    const { def, paused } = parseScheduleOptions(options);
    const action = def.action;
    if ('startNew' in action) {
      action.startNew.name = normalizeName(action.startNew.name, 'orchestration');
      await this.catalog.requireOrchestration(action.startNew.name);
    } else {
      const target = EntityId.parse(action.signalEntity.id);
      if (target.name === SCHEDULE_ENTITY) throw new DurableError('validation', 'a schedule cannot signal a schedule');
      action.signalEntity.id = target.toString();
      action.signalEntity.op = normalizeName(action.signalEntity.op, 'operation');
      await this.catalog.validateOperation(target.name, action.signalEntity.op, action.signalEntity.input);
    }
    await this.call(eid, 'create', { def, paused });
  }

  async get(id: string): Promise<ScheduleInfo | undefined> {
    const r = await this.t.readEntityState<ScheduleEntityState>(scheduleEntityId(id));
    return r.exists && r.state?.s ? toInfo(id, r.state.s) : undefined;
  }

  async list(): Promise<{ schedules: ScheduleInfo[] }> {
    const ids = await this.t.systemEntityIds(SCHEDULE_ENTITY);
    const all = await Promise.all(
      ids.map(async (eid) => {
        const r = await this.t.readEntityState<ScheduleEntityState>(eid);
        return r.exists && r.state?.s ? toInfo(eid.key, r.state.s) : undefined;
      }),
    );
    return { schedules: all.filter((s): s is ScheduleInfo => s !== undefined).sort((a, b) => a.id.localeCompare(b.id)) };
  }

  pause(id: string): Promise<void> {
    return this.call(scheduleEntityId(id), 'pause').then(() => undefined);
  }
  resume(id: string): Promise<void> {
    return this.call(scheduleEntityId(id), 'resume').then(() => undefined);
  }
  delete(id: string): Promise<void> {
    return this.call(scheduleEntityId(id), 'delete').then(() => undefined);
  }
  trigger(id: string): Promise<{ instanceId?: string }> {
    return this.call<{ instanceId?: string }>(scheduleEntityId(id), 'trigger');
  }

  private call<T = unknown>(eid: EntityId, op: string, input?: unknown): Promise<T> {
    return this.t.callRaw<T>(eid, { op, k: 'c', ...(input === undefined ? {} : { input }) }, TIMEOUT_MS);
  }
}

export function scheduleEntityId(id: string): EntityId {
  return new EntityId(SCHEDULE_ENTITY, validateScheduleId(id));
}

/**
 * The public view. `nextRuns` is computed from the definition (pure), from `nextTick` on.
 */
export function toInfo(id: string, s: ScheduleState): ScheduleInfo {
  const d = s.def;
  // No pending tick (paused, or past endAt): no next runs. Otherwise the pending one and those
  // after it: computed from the stored tick, not from a clock (the test kit's clock is virtual).
  const nextRuns = s.paused || s.nextTick === undefined ? [] : [s.nextTick, ...nextTicks(d, s.nextTick, NEXT_RUNS - 1)].map((t) => new Date(t));
  return {
    id,
    ...(d.cron !== undefined ? { cron: d.cron } : {}),
    ...(d.timezone !== undefined ? { timezone: d.timezone } : {}),
    ...(d.every !== undefined ? { every: d.every } : {}),
    action: d.action,
    overlap: d.overlap,
    paused: s.paused,
    ...(d.startAt !== undefined ? { startAt: new Date(d.startAt) } : {}),
    ...(d.endAt !== undefined ? { endAt: new Date(d.endAt) } : {}),
    nextRuns,
    ...(s.lastRun ? { lastRun: { time: new Date(s.lastRun.time), ...(s.lastRun.instanceId ? { instanceId: s.lastRun.instanceId } : {}) } } : {}),
    ...(s.lastSkipped !== undefined ? { lastSkipped: new Date(s.lastSkipped) } : {}),
  };
}
