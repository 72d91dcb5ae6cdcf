/**
 * Session: the step bookkeeping of one run (sequence ids, open tasks, produced events and
 * actions, raised-event buffers, entity locks). It is the ContextHost behind `ctx`.
 * Invariants: the Nth step the code takes gets sequence id N (one counter for activities,
 * timers, sub-orchestrations, sends, entity messages and unlocks); a produced item is emitted by
 * take() only if replay did not confirm it; an open task settles at most once.
 */
import { DurableError } from '../core/errors.js';
import type { OrchestratorAction } from './actions.js';
import type { ContextHost, EntityLock, LogLevel } from './context.js';
import { isSequenced, type HistoryEvent, type HistoryEventOf, type SequencedEvent } from './history.js';
import { Task, TimerTask } from './tasks.js';

type OpenKind = 'activity' | 'sub' | 'timer' | 'call' | 'lock';

interface Produced {
  event: HistoryEvent | undefined;
  actions: OrchestratorAction[];
  status: 'pending' | 'confirmed' | 'taken' | 'discarded';
}

interface LockRecord {
  lock: EntityLock;
  request: Produced;
  released: boolean;
}

/** Callbacks into the executor for the context calls that touch the run itself. */
export interface SessionHooks {
  continueAsNew(input: unknown): void;
  setCustomStatus(value: unknown): void;
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export class Session implements ContextHost {
  now = new Date(0);
  replaying = false;
  runId: string | undefined;
  #seq = 0;
  #fresh: Produced[] = [];
  #pending = new Map<number, Produced>();
  #open = new Map<number, { kind: OpenKind; task: Task<any> }>();
  #waiters = new Map<string, Task<unknown>[]>();
  #buffered: HistoryEventOf<'EventRaised'>[] = [];
  #locks = new Map<number, LockRecord>();
  #section: LockRecord | undefined;

  constructor(
    readonly instanceId: string,
    private readonly hooks: SessionHooks,
  ) {}

  get isReplaying(): boolean {
    return this.replaying;
  }
  stamp(): string {
    return this.now.toISOString();
  }

  // ---- produced items -------------------------------------------------------------------

  produce(event: HistoryEvent | undefined, actions: OrchestratorAction[]): Produced {
    const p: Produced = { event, actions, status: 'pending' };
    this.#fresh.push(p);
    if (event && isSequenced(event)) this.#pending.set(event.eventId, p);
    return p;
  }

  pendingStep(id: number): SequencedEvent | undefined {
    const ev = this.#pending.get(id)?.event;
    return ev && isSequenced(ev) ? ev : undefined;
  }

  confirm(id: number): void {
    const p = this.#pending.get(id);
    if (p) p.status = 'confirmed';
    this.#pending.delete(id);
  }

  confirmTerminal(type: 'ExecutionCompleted' | 'ContinueAsNew'): void {
    for (const p of this.#fresh) if (p.status === 'pending' && p.event?.type === type) p.status = 'confirmed';
  }

  /** Drops what the code produced but history never recorded (the code diverged). */
  discardPending(): void {
    for (const p of this.#fresh) if (p.status === 'pending') p.status = 'discarded';
    this.#pending.clear();
  }

  compact(): void {
    this.#fresh = this.#fresh.filter((p) => p.status === 'pending');
  }

  take(): { events: HistoryEvent[]; actions: OrchestratorAction[] } {
    const out = this.#fresh.filter((p) => p.status === 'pending');
    this.#fresh = [];
    for (const p of out) p.status = 'taken';
    this.#pending.clear();
    return { events: out.flatMap((p) => (p.event ? [p.event] : [])), actions: out.flatMap((p) => p.actions) };
  }

  // ---- inbound --------------------------------------------------------------------------

  bufferedEvents(): HistoryEventOf<'EventRaised'>[] {
    return [...this.#buffered];
  }

  raise(e: HistoryEventOf<'EventRaised'>): boolean {
    const waiter = this.#waiters.get(String(e.name).toLowerCase())?.shift();
    if (waiter) waiter.resolve(e.data);
    else this.#buffered.push(e);
    return true;
  }

  settle(kind: OpenKind, id: number, runId: string | undefined, fn: (t: Task<any>) => void): boolean {
    if (runId !== undefined && this.runId !== undefined && runId !== this.runId) return false;
    const open = this.#open.get(id);
    if (!open || open.kind !== kind) return false;
    this.#open.delete(id);
    if (open.task instanceof TimerTask && open.task.isCancelled) return false;
    fn(open.task);
    return true;
  }

  grant(lockId: number, runId: string | undefined): boolean {
    const rec = this.#locks.get(lockId);
    return this.settle('lock', lockId, runId, (t) => {
      this.#section = rec;
      t.resolve(rec!.lock);
    });
  }

  releaseAll(): void {
    for (const rec of [...this.#locks.values()]) {
      if (rec.request.status === 'discarded') this.#locks.delete(rec.lock.lockId);
      else this.#release(rec);
    }
  }

  #release(rec: LockRecord): void {
    if (rec.released) return;
    rec.released = true;
    const { lockId, entityIds } = rec.lock;
    this.#locks.delete(lockId);
    this.#open.delete(lockId); // a grant arriving after the release is ignored
    if (this.#section === rec) this.#section = undefined;
    const id = ++this.#seq;
    this.produce(
      { type: 'EntityUnlockSent', eventId: id, timestamp: this.stamp(), lockId, entityIds: [...entityIds] },
      entityIds.map((entityId) => ({ type: 'sendEntityMessage', kind: 'unlock', entityId, lockId, ...this.#run() })),
    );
  }

  #run(): { runId?: string } {
    return this.runId !== undefined ? { runId: this.runId } : {};
  }

  #openTask<T>(kind: OpenKind, task: Task<T> = new Task<T>()): { id: number; task: Task<T> } {
    const id = ++this.#seq;
    this.#open.set(id, { kind, task });
    return { id, task };
  }

  // ---- ContextHost ----------------------------------------------------------------------

  scheduleActivity(name: string, input: unknown, attempt: number): Task<unknown> {
    const { id, task } = this.#openTask('activity');
    this.produce({ type: 'TaskScheduled', eventId: id, timestamp: this.stamp(), taskId: id, name, input, attempt }, [
      { type: 'scheduleActivity', taskId: id, name, input, attempt, ...this.#run() },
    ]);
    return task;
  }

  scheduleSubOrchestration(name: string, input: unknown, childId: string | undefined): Task<unknown> {
    const { id, task } = this.#openTask('sub');
    const instanceId = childId ?? `${this.instanceId}:${id}`;
    this.produce({ type: 'SubOrchestrationCreated', eventId: id, timestamp: this.stamp(), taskId: id, name, instanceId, input }, [
      { type: 'startSubOrchestration', taskId: id, name, instanceId, input, parent: { instanceId: this.instanceId, taskId: id, ...this.#run() } },
    ]);
    return task;
  }

  scheduleTimer(fireAt: Date): TimerTask {
    const task = new TimerTask(this.#seq + 1, fireAt);
    const { id } = this.#openTask('timer', task);
    const at = fireAt.toISOString();
    this.produce({ type: 'TimerCreated', eventId: id, timestamp: this.stamp(), timerId: id, fireAt: at }, [{ type: 'createTimer', timerId: id, fireAt: at, ...this.#run() }]);
    return task;
  }

  waitForEvent(name: string): Task<unknown> {
    const task = new Task<unknown>();
    const i = this.#buffered.findIndex((e) => String(e.name).toLowerCase() === name);
    if (i >= 0) task.resolve(this.#buffered.splice(i, 1)[0]!.data);
    else this.#waiters.set(name, [...(this.#waiters.get(name) ?? []), task]);
    return task;
  }

  sendEvent(instanceId: string, name: string, data: unknown): void {
    const id = ++this.#seq;
    this.produce({ type: 'EventSent', eventId: id, timestamp: this.stamp(), instanceId, name, data }, [{ type: 'sendEvent', instanceId, name, data }]);
  }

  signalEntity(entityId: string, op: string, input: unknown): void {
    const id = ++this.#seq;
    const lockId = this.#section?.lock.entityIds.includes(entityId) ? { lockId: this.#section.lock.lockId } : {};
    this.produce({ type: 'EntitySignaled', eventId: id, timestamp: this.stamp(), entityId, op, input, ...lockId }, [
      { type: 'sendEntityMessage', kind: 'signal', entityId, op, input, ...lockId },
    ]);
  }

  callEntity(entityId: string, op: string, input: unknown): Task<unknown> {
    const section = this.#section;
    if (section && !section.lock.entityIds.includes(entityId)) {
      throw new DurableError(
        'validation',
        `callEntity('${entityId}') inside the critical section of lockEntities(${section.lock.entityIds.join(', ')}): lock it too, or release first`,
      );
    }
    const { id, task } = this.#openTask('call');
    const lockId = section ? { lockId: section.lock.lockId } : {};
    this.produce({ type: 'EntityCalled', eventId: id, timestamp: this.stamp(), requestId: id, entityId, op, input, ...lockId }, [
      { type: 'sendEntityMessage', kind: 'call', entityId, op, input, requestId: id, ...lockId, ...this.#run() },
    ]);
    return task;
  }

  lockEntities(entityIds: string[]): Task<EntityLock> {
    if (this.#section) throw new DurableError('validation', 'lockEntities inside a critical section: release the held lock first');
    const { id, task } = this.#openTask<EntityLock>('lock');
    const rec: LockRecord = {
      lock: { lockId: id, entityIds: Object.freeze([...entityIds]), release: () => this.#release(rec) },
      released: false,
      request: this.produce({ type: 'EntityLockRequested', eventId: id, timestamp: this.stamp(), lockId: id, entityIds }, [
        { type: 'sendEntityMessage', kind: 'lock', entityId: entityIds[0]!, lockId: id, lockSet: [...entityIds], ...this.#run() },
      ]),
    };
    this.#locks.set(id, rec);
    return task;
  }

  setCustomStatus(value: unknown): void {
    this.hooks.setCustomStatus(value);
    if (!this.replaying) this.produce({ type: 'CustomStatusSet', eventId: -1, timestamp: this.stamp(), value }, []);
  }

  continueAsNew(input: unknown): void {
    this.hooks.continueAsNew(input);
  }

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    if (!this.replaying) this.hooks.log(level, message, fields);
  }
}
