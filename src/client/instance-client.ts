/**
 * The orchestration half of DurableClient (instance management), plus what every method shares:
 * the fabric (hub.fabric: NATS or the test kit's memory) and durable publishing with a size check.
 *
 * Invariants: nothing larger than the fabric's max payload (less headroom) is sent; each method
 * that writes resolves once durable (PubAck or KV revision); waiting is pushed by a subscription
 * to the status key's subject, never polled, and timed on the fabric's clock.
 */
import { purgeInstanceRecords } from '../store/instance-records.js';
import { instanceMessages } from '../orchestration/messages.js';
import { randomUUID } from 'node:crypto';
import { decodeJson, encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { normalizeName, validateInstanceId } from '../core/names.js';
import { eventSubject, instanceInboxSubject, instancePartition, orchestrationActorToken, statusKey } from '../core/topology.js';
import type { CoreMessage, PubAck } from '../store/fabric.js';
import { HistoryAssembler } from '../store/history-records.js';
import type { Hub } from '../store/hub.js';
import { injectTrace } from '../core/tracing.js';
import type { CatalogCache } from './catalog-cache.js';
import { decodeCursor, encodeCursor, scanStatuses } from './status-scan.js';
import { decodeStatusEntry, isTerminal, RUNTIME_STATUSES, StatusOrder, type OrchestrationStatus, type RuntimeStatus } from './status.js';

/** Room left under max_payload for headers and envelope fields. */
const PAYLOAD_HEADROOM = 4_096;

export interface ListInstancesOptions {
  runtimeStatus?: RuntimeStatus[];
  createdFrom?: Date;
  createdTo?: Date;
  namePrefix?: string;
  instanceIdPrefix?: string;
  pageSize?: number;
  continuationToken?: string;
}

export interface PurgeFilter {
  createdFrom?: Date;
  createdTo?: Date;
  runtimeStatus?: RuntimeStatus[];
}

export class InstanceClient {
  protected constructor(
    readonly hub: Hub,
    protected readonly catalog: CatalogCache,
    /** Closes what this client opened (its NATS connection, or the fabric it connected); nothing when the fabric was given. */
    private readonly closeOwned: () => Promise<void>,
  ) {}

  /** Largest JSON body accepted, in bytes. */
  get maxPayload(): number {
    return this.hub.fabric.maxPayload - PAYLOAD_HEADROOM;
  }

  /** Not async on purpose (the hot signal path): the promise is the fabric's; errors before it are rejections. */
  protected publish(subject: string, body: unknown, msgId?: string): Promise<PubAck> {
    let data: Uint8Array;
    try {
      data = encodeJson(body);
    } catch (e) {
      return Promise.reject(e);
    }
    // Signals still batched go first: whatever is published next is ordered after them.
    this.flushPending();
    return this.publishNow(subject, data, msgId);
  }

  /** Sends what is batched (DurableClient's signal batches; nothing here). */
  protected flushPending(): void {}

  /** Publishes without flushing batched signals first (the batcher's own sends). */
  protected publishNow(subject: string, data: Uint8Array, msgId?: string): Promise<PubAck> {
    if (data.length > this.maxPayload) {
      return Promise.reject(new DurableError('validation', `payload of ${data.length} bytes exceeds the limit of ${this.maxPayload} bytes`));
    }
    const trace = injectTrace(); // the caller's span (client-tracing.ts), so the receiver joins its trace
    const options = msgId ? (trace ? { msgId, headers: trace } : { msgId }) : trace ? { headers: trace } : undefined;
    return this.hub.fabric.publish(subject, data, options);
  }

  /**
   * Starts an orchestration; resolves with its instance id once the start is durable.
   * @example const id = await client.startNew('helloSequence', { input: { name: 'x' } });
   */
  async startNew(name: string, options: { input?: unknown; instanceId?: string } = {}): Promise<string> {
    const orchestration = normalizeName(name, 'orchestration');
    await this.catalog.requireOrchestration(orchestration);
    const instanceId = options.instanceId === undefined ? randomUUID().replaceAll('-', '') : validateInstanceId(options.instanceId);
    // A generated id is new by construction: no need to read a status first. A deleted key reads
    // as absent: the write below is then a create, which the bucket makes over the tombstone.
    const existing = options.instanceId === undefined ? undefined : await this.readStatusRecord(instanceId);
    let revision = 0;
    let position = 0;
    if (existing) {
      const { status, position: p } = existing.entry;
      if (!isTerminal(status.runtimeStatus)) {
        throw new DurableError('instance-exists', `instance '${instanceId}' already exists and is ${status.runtimeStatus}`);
      }
      revision = existing.revision;
      position = p;
    }
    const runId = randomUUID();
    const now = new Date(this.hub.fabric.clock.now()).toISOString();
    // Visible as Pending at once (never 404 right after a start), written alongside the start.
    // CAS: if the worker has already written a newer status, that one stays.
    const pending: OrchestrationStatus = {
      instanceId,
      name: orchestration,
      runtimeStatus: 'Pending',
      createdTime: now,
      lastUpdatedTime: now,
      ...(options.input === undefined ? {} : { input: options.input }),
    };
    await Promise.all([
      this.publish(
        this.instanceSubject(instanceId),
        instanceMessages.started({
          name: orchestration,
          instanceId,
          runId,
          mode: 'replaceTerminal',
          ...(options.input === undefined ? {} : { input: options.input }),
        }),
        `start:${instanceId}:${runId}`,
      ),
      this.writeStatusIfUnchanged(pending, position, revision, 'start'),
    ]);
    return instanceId;
  }

  /** The instance's status, or undefined if there is none. */
  async getStatus(instanceId: string, options: { showHistory?: boolean; showInput?: boolean } = {}): Promise<OrchestrationStatus | undefined> {
    validateInstanceId(instanceId);
    const entry = await this.readStatusEntry(instanceId);
    if (!entry) return undefined;
    const { status } = entry;
    if (options.showInput === false) delete status.input;
    if (options.showHistory) status.history = await this.readHistory(instanceId);
    return status;
  }

  /** The stored status with its history position and KV revision. */
  private async readStatusEntry(instanceId: string): Promise<{ status: OrchestrationStatus; position: number; revision: number } | undefined> {
    validateInstanceId(instanceId);
    const r = await this.readStatusRecord(instanceId);
    return r ? { ...r.entry, revision: r.revision } : undefined;
  }

  /** The status key's record and its revision (the bucket's get: a DIRECT.GET on NATS). */
  private async readStatusRecord(instanceId: string): Promise<{ entry: ReturnType<typeof decodeStatusEntry>; revision: number } | undefined> {
    const e = await this.hub.kv.status.get(statusKey(instanceId));
    if (!e || e.value.length === 0) return undefined;
    return { entry: decodeStatusEntry(e.value), revision: e.revision };
  }

  /**
   * Writes a status on the client's side (Pending after a start or a rewind) only if the stored
   * record is still the one read (`revision`; 0: none). It carries the position of the record it
   * replaces: it reflects at least that much history, so a stale write from a worker that lost
   * its lease (lower position) cannot overwrite it, and a follower does not take the replaced
   * record, arriving late, for news. Losing the CAS is expected (the worker already wrote a
   * newer status, which must stay) and ignored; any other failure does not undo the durable
   * command, so it is reported as a process warning with its context rather than thrown.
   */
  private async writeStatusIfUnchanged(status: OrchestrationStatus, position: number, revision: number, what: string): Promise<void> {
    const data = encodeJson({ ...status, ...(position > 0 ? { _v: position } : {}) });
    try {
      const key = statusKey(status.instanceId);
      await (revision ? this.hub.kv.status.update(key, data, revision) : this.hub.kv.status.create(key, data));
    } catch (e) {
      if (isCasConflict(e)) return;
      process.emitWarning(`durable-nats: the Pending status after ${what} of instance '${status.instanceId}' was not written: ${(e as Error).message}`, {
        code: 'DURABLE_NATS_STATUS_WRITE',
        detail: 'the command itself is durable; the status shows the previous state until the worker writes the next one',
      });
    }
  }

  /** The persisted history events of the instance's current run. */
  async readHistory(instanceId: string): Promise<unknown[]> {
    const p = instancePartition(instanceId, this.hub.config.partitions);
    const subject = eventSubject(this.hub.names.hub, p, orchestrationActorToken(instanceId));
    const records = new HistoryAssembler<unknown>();
    await this.hub.fabric.scan(this.hub.names.eventStream, subject, 1, (m) => records.add(decodeJson(m.data)));
    const history = records.history;
    return history;
  }

  /**
   * Resolves with the terminal status; `timeout` error after timeoutMs. Pushed, not polled: it
   * subscribes to the status key's subject (every status write is a publish there), then reads
   * the current value, so a completion before the subscription is not missed. A plain
   * subscription costs no server-side consumer, so thousands of waits are cheap.
   */
  async waitForCompletion(instanceId: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<OrchestrationStatus> {
    validateInstanceId(instanceId);
    const timeoutMs = options.timeoutMs ?? 60_000;
    let found: OrchestrationStatus | undefined;
    await this.followStatus(
      instanceId,
      (s) => {
        if (!isTerminal(s.runtimeStatus)) return false;
        found = s;
        return true;
      },
      { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
    );
    if (!found) throw new DurableError('timeout', `instance '${instanceId}' did not complete within ${timeoutMs} ms`);
    return found;
  }

  /** Calls `onStatus` with the current status and every change until `signal` aborts (SSE, CLI progress). */
  async watchStatus(instanceId: string, onStatus: (s: OrchestrationStatus) => void, signal: AbortSignal): Promise<void> {
    await this.followStatus(
      instanceId,
      (s) => {
        onStatus(s);
        return false;
      },
      { signal },
    );
  }

  /**
   * Feeds `visit` the current status and then every new one, until it returns true, the time is
   * up (fabric clock) or `signal` aborts. Subscribe-then-read: `subscribe` resolves once the
   * subscription is in place, so a write after the read below is delivered; writes seen by both
   * (or arriving out of order) are sorted out by StatusOrder.
   */
  private async followStatus(instanceId: string, visit: (s: OrchestrationStatus) => boolean, o: { timeoutMs?: number; signal?: AbortSignal }): Promise<void> {
    validateInstanceId(instanceId);
    if (o.signal?.aborted) return;
    // An older write arriving late is skipped by its history position, never by its
    // lastUpdatedTime: the client and each worker stamp times with their own clocks.
    const order = new StatusOrder();
    let done = false;
    let finish!: () => void;
    let fail!: (e: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => {
      finish = () => {
        done = true;
        resolve();
      };
      fail = (e) => {
        done = true;
        reject(e);
      };
    });
    /** Until the current value is read, changes wait here (then they are fed in arrival order). */
    let early: CoreMessage[] | undefined = [];
    const take = (m: CoreMessage) => {
      if (done) return;
      const op = m.headers?.get('KV-Operation');
      if (op === 'DEL' || op === 'PURGE' || m.data.length === 0) return;
      try {
        const e = decodeStatusEntry(m.data);
        if (order.accept(e.position) && visit(e.status)) finish();
      } catch (err) {
        fail(err);
      }
    };
    const clock = this.hub.fabric.clock;
    const cancelTimer = o.timeoutMs === undefined ? undefined : clock.setTimer(clock.now() + o.timeoutMs, finish);
    o.signal?.addEventListener('abort', finish, { once: true });
    let sub: { stop(): void } | undefined;
    try {
      sub = await this.hub.fabric.subscribe(`$KV.${this.hub.names.statusBucket}.${statusKey(instanceId)}`, (m) => (early ? early.push(m) : take(m)));
      if (!done) {
        const current = await this.readStatusEntry(instanceId);
        if (current && !done && order.accept(current.position) && visit(current.status)) finish();
      }
      const queued = early;
      early = undefined;
      for (const m of queued) take(m);
      await finished;
    } finally {
      done = true;
      cancelTimer?.();
      o.signal?.removeEventListener('abort', finish);
      sub?.stop();
    }
  }

  async raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    const name = normalizeName(eventName, 'event');
    await this.requireActive(instanceId, 'raise an event on');
    await this.send(instanceId, instanceMessages.eventRaised(name, data));
  }

  async terminate(instanceId: string, reason?: string): Promise<void> {
    await this.requireActive(instanceId, 'terminate');
    await this.send(instanceId, instanceMessages.terminated(reason));
  }

  async suspend(instanceId: string, reason?: string): Promise<void> {
    await this.requireActive(instanceId, 'suspend');
    await this.send(instanceId, instanceMessages.suspended(reason));
  }

  async resume(instanceId: string, reason?: string): Promise<void> {
    await this.requireActive(instanceId, 'resume');
    await this.send(instanceId, instanceMessages.resumed(reason));
  }

  /** Starts a terminal instance again under the same id, with its original input. */
  async restart(instanceId: string): Promise<string> {
    const s = await this.requireStatus(instanceId);
    return this.startNew(s.name, { instanceId, ...(s.input === undefined ? {} : { input: s.input }) });
  }

  /** Retries a Failed instance from its failed steps. */
  async rewind(instanceId: string, reason?: string): Promise<void> {
    const entry = await this.readStatusEntry(instanceId);
    if (!entry) throw new DurableError('not-found', `no instance '${instanceId}'`);
    const s = entry.status;
    if (s.runtimeStatus !== 'Failed') throw new DurableError('validation', `only Failed instances can be rewound; '${instanceId}' is ${s.runtimeStatus}`);
    await this.send(instanceId, instanceMessages.rewound(reason));
    // Not terminal any more from now on (a wait right after must not see the old failure);
    // CAS so that a newer status from the worker wins.
    const pending: OrchestrationStatus = { ...s, runtimeStatus: 'Pending', lastUpdatedTime: new Date(this.hub.fabric.clock.now()).toISOString() };
    delete pending.failureDetails;
    await this.writeStatusIfUnchanged(pending, entry.position, entry.revision, 'rewind');
  }

  /** Deletes a terminal instance's history and status. */
  async purge(instanceId: string): Promise<{ deleted: number }> {
    validateInstanceId(instanceId);
    const s = await this.getStatus(instanceId);
    if (!s) return { deleted: 0 };
    if (!isTerminal(s.runtimeStatus)) throw new DurableError('validation', `instance '${instanceId}' is ${s.runtimeStatus}; terminate it before purging`);
    await purgeInstanceRecords(this.hub, instanceId);
    return { deleted: 1 };
  }

  /** Purges the terminal instances matching the filter: one pass over the statuses, then a purge each. */
  async purgeInstances(filter: PurgeFilter = {}): Promise<{ deleted: number }> {
    const { statuses } = await scanStatuses(this.hub, 0, Infinity, (s) => isTerminal(s.runtimeStatus) && matches(s, filter), { deadlineMs: 120_000 });
    let deleted = 0;
    for (const s of statuses) deleted += (await this.purge(s.instanceId)).deleted;
    return { deleted };
  }

  /**
   * Instances matching the filters, a page at a time, in the order their statuses were last
   * written (least recently changed first). One pass over the status stream per page, whatever
   * the number of instances in the hub; the continuation token is a cursor into that stream
   * (see status-scan.ts for what paging guarantees while statuses change).
   */
  async listInstances(options: ListInstancesOptions = {}): Promise<{ instances: OrchestrationStatus[]; continuationToken?: string }> {
    const pageSize = options.pageSize ?? 100;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) throw new DurableError('validation', 'pageSize must be an integer in 1..10000');
    for (const s of options.runtimeStatus ?? []) {
      if (!RUNTIME_STATUSES.includes(s)) throw new DurableError('validation', `unknown runtimeStatus '${s}' (one of ${RUNTIME_STATUSES.join(', ')})`);
    }
    const prefix = options.namePrefix?.toLowerCase();
    const after = options.continuationToken ? decodeCursor(options.continuationToken) : 0;
    const page = await scanStatuses(
      this.hub,
      after,
      pageSize,
      (s) => matches(s, options) && (!prefix || s.name.startsWith(prefix)) && (!options.instanceIdPrefix || s.instanceId.startsWith(options.instanceIdPrefix)),
    );
    return { instances: page.statuses, ...(page.more ? { continuationToken: encodeCursor(page.cursor) } : {}) };
  }

  /** True while the fabric reaches its store (the connection to NATS is up). */
  isConnected(): boolean {
    return this.hub.fabric.isConnected();
  }

  /** Round trip to the store; rejects with a `connection` error when it does not answer. */
  ping(timeoutMs = 2_000): Promise<number> {
    return this.hub.fabric.ping(timeoutMs);
  }

  async close(): Promise<void> {
    this.catalog.stop();
    await this.closeOwned().catch(() => undefined);
  }

  protected instanceSubject(instanceId: string): string {
    return instanceInboxSubject(this.hub.names.hub, instanceId, this.hub.config.partitions);
  }

  private async send(instanceId: string, event: Record<string, unknown>): Promise<void> {
    await this.publish(this.instanceSubject(instanceId), { eventId: -1, timestamp: new Date(this.hub.fabric.clock.now()).toISOString(), ...event });
  }

  private async requireStatus(instanceId: string): Promise<OrchestrationStatus> {
    const s = await this.getStatus(instanceId);
    if (!s) throw new DurableError('not-found', `no instance '${instanceId}'`);
    return s;
  }

  private async requireActive(instanceId: string, action: string): Promise<OrchestrationStatus> {
    const s = await this.requireStatus(instanceId);
    if (isTerminal(s.runtimeStatus)) {
      throw new DurableError('not-found', `cannot ${action} instance '${instanceId}': it is ${s.runtimeStatus}`, { details: { gone: true, runtimeStatus: s.runtimeStatus } });
    }
    return s;
  }
}

/** A KV create/update that lost its compare-and-set (the key moved on since it was read). */
function isCasConflict(e: unknown): boolean {
  return DurableError.is(e, 'fenced');
}

function matches(s: OrchestrationStatus, f: PurgeFilter): boolean {
  if (f.runtimeStatus && f.runtimeStatus.length > 0 && !f.runtimeStatus.includes(s.runtimeStatus)) return false;
  if (f.createdFrom && s.createdTime < f.createdFrom.toISOString()) return false;
  if (f.createdTo && s.createdTime > f.createdTo.toISOString()) return false;
  return true;
}
