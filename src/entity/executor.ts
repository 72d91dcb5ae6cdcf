/**
 * The pure entity executor: (definition, state + meta, ordered messages) -> new state + meta,
 * outcomes for callers and effects to publish after commit. No I/O.
 *
 * Invariants it keeps:
 * - messages are applied one at a time in inbox order; one already applied (seq <= meta.in, or a
 *   recently seen idempotency key) is skipped, so redelivery and duplicate publish are harmless;
 * - an operation that throws (or fails validation) leaves the state unchanged and produces no
 *   effects; its error goes to its caller;
 * - while the entity is locked by an orchestration, messages from anyone else wait in meta.q
 *   (persisted with the state) and run, in order, after the unlock.
 */
import { Immer, isDraft, isDraftable, current } from 'immer';
import { EntityId } from '../core/entity-id.js';
import { toErrorInfo } from '../core/errors.js';
import { normalizeName } from '../core/names.js';
import type { EntityContext, EntityDefinition } from './definition.js';
import type { CallOutcome, EntityMessage, InboxEntityMessage } from './messages.js';

const immer = new Immer({ autoFreeze: false });
const utf8 = new TextEncoder();
const MAX_IDEMPOTENCY_KEYS = 32;
/** Inputs larger than this (JSON bytes) are recorded in a version's operation list by size only. */
export const MAX_RECORDED_INPUT_BYTES = 256;

/**
 * Applied operations as recorded in an entity event, compact because a hot entity's version holds
 * hundreds: `[op]` or `[op, input]` (one application), `[n, op]` or `[n, op, input]` (n >= 2
 * consecutive identical applications: a leading number), `[op, 0, bytes]` (one application whose
 * input, over MAX_RECORDED_INPUT_BYTES, is kept by size only).
 */
export type RecordedOperation = [string] | [string, unknown] | [string, 0, number] | [number, string] | [number, string, unknown];

/** The reserved operation that restores an earlier version (sent by restoreEntity, kind 'restore'). */
export const RESTORE_OPERATION = '__restore';

/** Durable bookkeeping stored with every state: what was applied and who holds the lock. */
export interface EntityMeta {
  /** Highest inbox sequence applied (or queued). */
  in: number;
  /** Recent idempotency keys, newest last (beyond the stream's duplicate window). */
  ks?: string[];
  /** The orchestration holding this entity's lock. */
  lock?: { o: string; l: number };
  /** Messages that arrived while locked, in order. */
  q?: QueuedMessage[];
  /** Locks released before their request arrived ('owner:lockId'): their request is ignored. */
  ul?: string[];
}

export interface QueuedMessage {
  seq: number;
  body: EntityMessage;
}

export interface EntitySnapshot<S = unknown> {
  exists: boolean;
  state: S;
  meta: EntityMeta;
}

/** Side effects an operation asks for; published (durably, with dedupe ids) only after commit. */
export type EntityEffect =
  | { kind: 'signal'; target: string; body: EntityMessage; delayUntil?: number; msgId?: string }
  | { kind: 'start'; name: string; instanceId: string; input?: unknown }
  | { kind: 'respond'; instanceId: string; requestId: number; outcome: CallOutcome; runId?: string }
  | { kind: 'lockGranted'; instanceId: string; lockId: number; runId?: string };

export interface ExecutedMessage {
  seq: number;
  /** Client reply subject, for calls from clients. */
  reply?: string;
  outcome: CallOutcome;
  op: string;
}

export interface DeadLetter {
  seq: number;
  reason: string;
  body: unknown;
}

export interface EntityBatchResult<S = unknown> {
  snapshot: EntitySnapshot<S>;
  /** True if state or meta changed (an event must be appended). */
  changed: boolean;
  effects: Array<{ seq: number; effect: EntityEffect }>;
  executed: ExecutedMessage[];
  deadLetters: DeadLetter[];
  /** Operations applied (not skipped, not queued). */
  applied: number;
  /** The operations applied, in order, as recorded in the event (history). */
  operations: RecordedOperation[];
}

export interface EntityBatchOptions {
  /** The engine's clock at this batch (ms since epoch): ctx.currentUtcDateTime, delayMs timers. Default Date.now(). */
  now?: number;
}

export function newSnapshot<S>(def: EntityDefinition<S>): EntitySnapshot<S> {
  return { exists: false, state: def.initialState(), meta: { in: 0 } };
}

/** Run a batch of messages (ascending seq) against one entity. */
export async function executeEntityBatch<S>(
  def: EntityDefinition<S>,
  id: EntityId,
  start: EntitySnapshot<S>,
  messages: readonly InboxEntityMessage[],
  newInstanceId: (seq: number, n: number) => string,
  options: EntityBatchOptions = {},
): Promise<EntityBatchResult<S>> {
  // The clock is read once per batch, by the caller's clock (the test kit's virtual one): the
  // executor itself never reads the time.
  const run = new BatchRun(def, id, start, newInstanceId, options.now ?? Date.now());
  // A synchronous handler costs no promise: only an asynchronous one (or an unlock) is awaited.
  for (const m of messages) {
    const pending = run.receive(m);
    if (pending) await pending;
  }
  return run.result();
}

class BatchRun<S> {
  private state: S;
  private exists: boolean;
  private meta: EntityMeta;
  private changed = false;
  private applied = 0;
  private readonly operations: RecordedOperation[] = [];
  private readonly effects: Array<{ seq: number; effect: EntityEffect }> = [];
  private readonly executed: ExecutedMessage[] = [];
  private readonly deadLetters: DeadLetter[] = [];

  constructor(
    private readonly def: EntityDefinition<S>,
    private readonly id: EntityId,
    start: EntitySnapshot<S>,
    private readonly newInstanceId: (seq: number, n: number) => string,
    private readonly now: number,
  ) {
    this.state = start.state;
    this.exists = start.exists;
    this.meta = { ...start.meta, ...(start.meta.ks ? { ks: [...start.meta.ks] } : {}), ...(start.meta.q ? { q: [...start.meta.q] } : {}) };
  }

  /** Undefined when the message was handled synchronously; a promise to await otherwise. */
  receive(m: InboxEntityMessage): Promise<void> | void {
    if (m.seq <= this.meta.in) return; // applied before a crash or a takeover: skip
    if (m.msgId && this.meta.ks?.includes(m.msgId)) {
      this.advance(m.seq);
      return;
    }
    this.advance(m.seq);
    if (m.msgId) this.rememberKey(m.msgId);
    if (m.batch) return this.dispatchAll(m.seq, m.batch, 0);
    return this.dispatch(m.seq, m.body);
  }

  /** A batch message's signals, in order, from `from` on; async only from the first async handler. */
  private dispatchAll(seq: number, bodies: readonly EntityMessage[], from: number): Promise<void> | void {
    for (let i = from; i < bodies.length; i++) {
      const pending = this.dispatch(seq, bodies[i]!);
      if (pending) return pending.then(() => this.dispatchAll(seq, bodies, i + 1));
    }
  }

  private dispatch(seq: number, body: EntityMessage): Promise<void> | void {
    const kind = body.k ?? (body.reply || body.from ? 'c' : 's');
    if (kind === 'unlock') return this.unlock(seq, body);
    const lock = this.meta.lock;
    if (lock && body.from?.i !== lock.o && body.lock?.o !== lock.o && body.lo !== lock.o) {
      (this.meta.q ??= []).push({ seq, body });
      this.changed = true;
      return;
    }
    if (kind === 'lock') return this.lock(seq, body);
    if (kind === 'restore') return this.restore(seq, body);
    return this.operate(seq, body);
  }

  /**
   * Restores an earlier version: the input carries that version's existence and state (read by
   * the client). It runs in inbox order like any operation, so it is serialized with the others,
   * and the new version records it (with the version restored, not the state again).
   */
  private restore(seq: number, body: EntityMessage): void {
    const input = body.input as { version?: unknown; exists?: unknown; state?: unknown } | undefined;
    if (!input || typeof input.version !== 'number' || typeof input.exists !== 'boolean') {
      const reason = 'restore message needs input { version, exists, state? }';
      this.deadLetters.push({ seq, reason, body });
      return this.finish(seq, body, { ok: false, error: { message: reason, errorType: 'DurableError', code: 'validation' } });
    }
    this.state = input.exists ? (input.state as S) : this.def.initialState();
    this.exists = input.exists;
    this.changed = true;
    this.applied++;
    this.operations.push([RESTORE_OPERATION, { version: input.version }]);
    this.finish(seq, body, { ok: true, result: { restored: input.version } });
  }

  private lock(seq: number, body: EntityMessage): void {
    const req = body.lock;
    if (!req) {
      this.deadLetters.push({ seq, reason: 'lock message without lock field', body });
      return;
    }
    if (this.meta.lock && this.meta.lock.o === req.o && this.meta.lock.l === req.l) return; // duplicate
    // The owner gave up before its request got here (e.g. terminated while waiting): never lock.
    if (this.meta.ul?.includes(`${req.o}:${req.l}`)) return;
    this.meta.lock = { o: req.o, l: req.l };
    this.changed = true;
    const next = req.n + 1;
    const effect: EntityEffect =
      next < req.ids.length
        ? { kind: 'signal', target: req.ids[next]!, body: { op: '__lock', k: 'lock', lock: { ...req, n: next } } }
        : { kind: 'lockGranted', instanceId: req.o, lockId: req.l, ...(req.u ? { runId: req.u } : {}) };
    this.effects.push({ seq, effect });
  }

  private async unlock(_seq: number, body: EntityMessage): Promise<void> {
    const lock = this.meta.lock;
    const owner = body.lock?.o ?? body.from?.i;
    if (!lock || lock.o !== owner || (body.lock && body.lock.l !== lock.l)) {
      // Unlock before the lock request: remember it so the late request does not lock forever.
      if (owner && body.lock && !(lock && lock.o === owner && lock.l === body.lock.l)) {
        const ul = (this.meta.ul ??= []);
        ul.push(`${owner}:${body.lock.l}`);
        if (ul.length > 16) ul.splice(0, ul.length - 16);
        this.changed = true;
      }
      return;
    }
    delete this.meta.lock;
    this.changed = true;
    // Run what waited, in order, until it is empty or someone locks again.
    while (!this.meta.lock && this.meta.q && this.meta.q.length > 0) {
      const queued = this.meta.q.shift()!;
      if (this.meta.q.length === 0) delete this.meta.q;
      const pending = this.dispatch(queued.seq, queued.body);
      if (pending) await pending;
    }
  }

  private operate(seq: number, body: EntityMessage): Promise<void> | void {
    const opName = body.op.toLowerCase();
    const op = this.def.operations.get(opName);
    if (!op) {
      const reason = `entity '${this.def.name}' has no operation '${body.op}'`;
      this.deadLetters.push({ seq, reason, body });
      return this.finish(seq, body, { ok: false, error: { message: reason, errorType: 'DurableError', code: 'validation' } });
    }
    let input = body.input;
    if (op.input) {
      const parsed = op.input.safeParse(input);
      if (!parsed.success) {
        const reason = `invalid input for '${this.def.name}.${opName}': ${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`;
        this.deadLetters.push({ seq, reason, body });
        return this.finish(seq, body, { ok: false, error: { message: reason, errorType: 'DurableError', code: 'validation' } });
      }
      input = parsed.data;
    }
    const pending: EntityEffect[] = [];
    // What the handler asked for besides draft changes; applied only if it returns normally.
    const outcome: { deleted: boolean; replaced?: { value: S } } = { deleted: false };
    const ctx = this.context(opName, seq, pending, outcome);
    let draft: object | undefined;
    let r: unknown;
    try {
      // Only objects and arrays can be drafted: a primitive state (0, 'x', true, null) is handed
      // over as is and changes only through ctx.setState.
      // createDraft/finishDraft rather than produce(): immer 11 revokes a draft as soon as the
      // recipe returns, so an async handler must own the draft until it settles.
      draft = isDraftable(this.state) ? immer.createDraft(this.state as object) : undefined;
      r = op.handler((draft ?? this.state) as never, input, ctx);
    } catch (e) {
      return this.finish(seq, body, { ok: false, error: toErrorInfo(e) });
    }
    if (r && typeof (r as PromiseLike<unknown>).then === 'function') {
      return Promise.resolve(r as PromiseLike<unknown>).then(
        (value) => this.complete(seq, body, opName, draft, value, outcome, pending),
        (e: unknown) => this.finish(seq, body, { ok: false, error: toErrorInfo(e) }),
      );
    }
    this.complete(seq, body, opName, draft, r, outcome, pending);
  }

  /** The handler returned `r` (settled): the operation's changes become the state, or its error the outcome. */
  private complete(
    seq: number,
    body: EntityMessage,
    opName: string,
    draft: object | undefined,
    r: unknown,
    outcome: { deleted: boolean; replaced?: { value: S } },
    pending: EntityEffect[],
  ): void {
    let result: unknown;
    let next: S;
    try {
      result = detach(r);
      const drafted = draft === undefined ? this.state : (immer.finishDraft(draft) as S);
      next = outcome.replaced ? (outcome.replaced.value as S) : drafted;
    } catch (e) {
      return this.finish(seq, body, { ok: false, error: toErrorInfo(e) });
    }
    this.applied++;
    this.changed = true;
    appendOperation(this.operations, recordOperation(opName, body.input));
    if (outcome.deleted) {
      this.state = this.def.initialState();
      this.exists = false;
    } else {
      this.state = next;
      this.exists = true;
    }
    for (const effect of pending) this.effects.push({ seq, effect });
    this.finish(seq, body, result === undefined ? { ok: true } : { ok: true, result });
  }

  private finish(seq: number, body: EntityMessage, outcome: CallOutcome): void {
    if (body.from)
      this.effects.push({ seq, effect: { kind: 'respond', instanceId: body.from.i, requestId: body.from.r, outcome, ...(body.from.u ? { runId: body.from.u } : {}) } });
    this.executed.push({ seq, op: body.op, outcome, ...(body.reply ? { reply: body.reply } : {}) });
  }

  private context(operation: string, seq: number, pending: EntityEffect[], outcome: { deleted: boolean; replaced?: { value: S } }): EntityContext<S> {
    let started = 0;
    const now = this.now;
    return {
      id: this.id,
      operation,
      currentUtcDateTime: new Date(now),
      signalEntity(target, op, input, options) {
        const targetId = EntityId.from(target as EntityId | string);
        // A copy taken now: the input may be (or hold) part of the draft, revoked when the handler ends.
        const body: EntityMessage = { op: normalizeName(op, 'operation'), ...(input === undefined ? {} : { input: detach(input) }) };
        const at = options?.at ? options.at.getTime() : options?.delayMs ? now + options.delayMs : undefined;
        const key = options?.idempotencyKey;
        pending.push({ kind: 'signal', target: targetId.toString(), body, ...(at !== undefined ? { delayUntil: at } : {}), ...(key ? { msgId: key } : {}) });
      },
      startNew: (name, options) => {
        const instanceId = options?.instanceId ?? this.newInstanceId(seq, started++);
        pending.push({ kind: 'start', name: normalizeName(name, 'orchestration'), instanceId, ...(options?.input === undefined ? {} : { input: detach(options.input) }) });
        return instanceId;
      },
      deleteState: () => {
        outcome.deleted = true;
        delete outcome.replaced;
      },
      setState: (value: S) => {
        // A copy taken now: the value may be (or hold) the draft, which is revoked at the end.
        outcome.replaced = { value: detach(value) as S };
        outcome.deleted = false;
      },
    };
  }

  private advance(seq: number): void {
    this.meta.in = seq;
    this.changed = true;
  }

  private rememberKey(key: string): void {
    const ks = (this.meta.ks ??= []);
    ks.push(key);
    if (ks.length > MAX_IDEMPOTENCY_KEYS) ks.splice(0, ks.length - MAX_IDEMPOTENCY_KEYS);
  }

  result(): EntityBatchResult<S> {
    return {
      snapshot: { exists: this.exists, state: this.state, meta: this.meta },
      changed: this.changed,
      effects: this.effects,
      executed: this.executed,
      deadLetters: this.deadLetters,
      applied: this.applied,
      operations: this.operations,
    };
  }
}

/**
 * Appends one application to a version's list, merging it into the last entry when it repeats
 * it (same op, same small input): a counter's burst of `add 1` is one `[n, 'add', 1]`.
 */
export function appendOperation(list: RecordedOperation[], r: RecordedOperation): void {
  const last = list[list.length - 1];
  if (last && r.length <= 2 && sameOperation(last, r)) {
    if (typeof last[0] === 'number') (last as [number, string])[0]++;
    else list[list.length - 1] = [2, ...(r as [string] | [string, unknown])] as RecordedOperation;
    return;
  }
  list.push(r);
}

function sameOperation(last: RecordedOperation, r: RecordedOperation): boolean {
  // Runs once per applied operation: no slice, and the same value (a hot counter's `1`) is equal
  // without serializing it twice.
  const at = typeof last[0] === 'number' ? 1 : 0;
  if (last.length - at !== r.length || last[at] !== r[0]) return false;
  if (at === 0 && last.length === 3) return false; // an omitted input is never merged
  if (r.length === 1) return true;
  const a = last[at + 1];
  return a === r[1] || JSON.stringify(a) === JSON.stringify(r[1]);
}

/** `[op]`, `[op, input]`, or `[op, 0, bytes]` for an input over MAX_RECORDED_INPUT_BYTES. */
export function recordOperation(op: string, input: unknown): RecordedOperation {
  if (input === undefined) return [op];
  // A number or a boolean is always far below the bound: no need to serialize it to measure it.
  if (typeof input === 'number' || typeof input === 'boolean') return [op, input];
  const json = JSON.stringify(input) ?? 'null';
  // Cheap bound first: a UTF-8 byte is at most 3 per UTF-16 unit.
  const bytes = json.length * 3 <= MAX_RECORDED_INPUT_BYTES ? json.length : utf8.encode(json).length;
  return bytes > MAX_RECORDED_INPUT_BYTES ? [op, 0, bytes] : [op, input];
}

/** A handler's result may reference the draft; copy it out while the draft is alive. */
function detach(value: unknown): unknown {
  if (value === undefined || value === null || typeof value !== 'object') return value;
  if (isDraft(value)) return current(value);
  return JSON.parse(JSON.stringify(value));
}
