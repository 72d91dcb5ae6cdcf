/**
 * LeaseManager: which worker processes which partition.
 *
 * Every worker heartbeats 'w.<id>' in the lease bucket and watches the bucket. The live workers
 * (a heartbeat seen within leaseMs, by the observer's own clock: no cross-machine clock skew) are
 * sorted and partition p belongs to live[p % n]. A partition's lease 'p.<n>' = { owner, cp } is
 * taken and renewed with revision compare-and-set; the renewal also carries the checkpoint.
 *
 * Invariants: a worker commits to a partition only while its last renewal is younger than
 * 0.75 x leaseMs (others take over only after a full leaseMs without renewal); the checkpoint
 * advances only through this owner's CAS (a worker that lost the lease cannot move it); and the
 * event fence (expected last subject sequence) stops any write that slips through a pause.
 *
 * Lease timing (heartbeats, renewals, expiry, the watch's silence) is real time (Date.now,
 * setInterval), not the fabric's clock: the one exception the architecture allows, since a lease
 * measures a real process's liveness. Everything else goes through the port (`hub.kv.leases`,
 * `hub.fabric.purge`).
 */
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { inboxFilter } from '../core/topology.js';
import type { KvBucket, KvChange, Stoppable } from '../store/fabric.js';
import type { Hub } from '../store/hub.js';
import { withStartupRetry, type StartupRetryOptions } from '../store/startup.js';
import type { Checkpoint, PartitionProcessor } from './partition.js';

export interface LeaseValue {
  owner: string | null;
  cp: Checkpoint;
  at: string;
}

export interface LeaseManagerOptions {
  hub: Hub;
  workerId: string;
  leaseMs: number;
  heartbeatMs: number;
  logger: Logger;
  createProcessor: (partition: number, cp: Checkpoint) => PartitionProcessor;
  onOwnershipChange?: (owned: number) => void;
}

interface Seen {
  value: unknown;
  revision: number;
  seenAt: number;
}

interface Owned {
  revision: number;
  renewedAt: number;
  processor: PartitionProcessor;
  lastPurged: number;
}

const PURGE_EVERY_MS = 30_000;

export class LeaseManager {
  private readonly view = new Map<string, Seen>();
  private readonly owned = new Map<number, Owned>();
  private readonly busy = new Set<number>();
  private watcher: Stoppable | undefined;
  /** The current watch (changes of an older one are ignored). */
  private watchToken: object | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopping = false;
  private readonly startedAt = new Date().toISOString();
  private lastWatchEventAt = Date.now();

  constructor(private readonly o: LeaseManagerOptions) {}

  private get kv(): KvBucket {
    return this.o.hub.kv.leases;
  }

  /**
   * Joins the worker set. The first watch and heartbeat go to a lease bucket that may be on a
   * cluster still electing: retried until the start-up deadline (later ticks log and go on).
   */
  async start(startup?: StartupRetryOptions): Promise<void> {
    await withStartupRetry('lease bucket watch', () => this.watch(), startup);
    await withStartupRetry('lease heartbeat', () => this.heartbeat(), startup);
    this.tickTimer = setInterval(() => void this.tick(), this.o.heartbeatMs);
    await this.tick();
  }

  /** True while this worker may commit to `partition`. */
  isValid(partition: number): boolean {
    const o = this.owned.get(partition);
    return !!o && !this.stopping && Date.now() - o.renewedAt < this.o.leaseMs * 0.75;
  }

  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /** True while a partition of this worker is starting, has a batch in flight or messages buffered (test kit idle detection). */
  isBusy(): boolean {
    if (this.busy.size > 0) return true;
    for (const o of this.owned.values()) if (o.processor.busy) return true;
    return false;
  }

  /** Releases every partition once its batch in flight has ended; leaves the worker set. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    while (this.ticking) await new Promise((r) => setTimeout(r, 10));
    await Promise.all([...this.owned.keys()].map((p) => this.release(p)));
    await this.kv
      .delete(`w.${this.o.workerId}`)
      .catch((err) => this.o.logger.warn({ err: (err as Error).message }, "could not remove this worker's heartbeat; others will see it expire"));
    this.watchToken = undefined;
    this.watcher?.stop();
  }

  /** Abandons everything without writing: the end of a failed start whose release could not finish. */
  abort(): void {
    this.stopping = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    for (const o of this.owned.values()) void o.processor.stop(false);
    this.owned.clear();
    this.watchToken = undefined;
    this.watcher?.stop();
  }

  /** (Re)starts the bucket watch: the view of workers and leases comes from it. */
  private async watch(): Promise<void> {
    const token = {};
    this.watchToken = token;
    this.lastWatchEventAt = Date.now();
    const watcher = await this.kv.watch((c) => {
      if (this.watchToken !== token) return;
      this.lastWatchEventAt = Date.now();
      this.observe(c);
    });
    if (this.watchToken !== token) {
      watcher.stop(); // replaced while starting
      return;
    }
    this.watcher = watcher;
  }

  /**
   * Our own heartbeat is written every tick, so a healthy watch delivers something every tick. A
   * silent one (its consumer was on a NATS node that died) would leave us blind to other workers
   * and to lease revisions, and a partition whose desired owner is blind stays unowned: restart it.
   */
  private async checkWatch(): Promise<void> {
    if (Date.now() - this.lastWatchEventAt < Math.max(3 * this.o.heartbeatMs, 1_500)) return;
    this.o.logger.warn('lease watch silent; restarting it');
    this.watchToken = undefined;
    this.watcher?.stop();
    await this.watch();
  }

  private observe(c: KvChange): void {
    if (c.op !== 'PUT') {
      this.view.delete(c.key);
      return;
    }
    let value: unknown;
    try {
      value = decodeJson(c.value);
    } catch {
      return;
    }
    this.view.set(c.key, { value, revision: c.revision, seenAt: Date.now() });
  }

  private liveWorkers(): string[] {
    const now = Date.now();
    const live = new Set<string>([this.o.workerId]);
    for (const [key, seen] of this.view) {
      if (key.startsWith('w.') && now - seen.seenAt < this.o.leaseMs) live.add(key.slice(2));
    }
    return [...live].sort();
  }

  private async heartbeat(): Promise<void> {
    await this.kv.put(`w.${this.o.workerId}`, encodeJson({ id: this.o.workerId, startedAt: this.startedAt, owned: this.ownedPartitions() }));
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) return;
    this.ticking = true;
    try {
      await this.heartbeat();
      await this.checkWatch();
      const live = this.liveWorkers();
      const partitions = this.o.hub.config.partitions;
      const work: Promise<void>[] = [];
      for (let p = 0; p < partitions; p++) {
        if (this.busy.has(p)) continue;
        const desired = live[p % live.length]!;
        if (this.owned.has(p)) {
          work.push(desired !== this.o.workerId ? this.release(p) : this.renew(p));
        } else if (desired === this.o.workerId) {
          const key = `p.${p}`;
          const seen = this.view.get(key);
          const lease = seen?.value as LeaseValue | undefined;
          const free = !seen || !lease || lease.owner === null || lease.owner === this.o.workerId || Date.now() - seen.seenAt >= this.o.leaseMs;
          if (free) work.push(this.acquire(p, seen));
        }
      }
      await Promise.all(work);
    } catch (err) {
      this.o.logger.warn({ err }, 'lease tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private async acquire(p: number, seen: Seen | undefined): Promise<void> {
    this.busy.add(p);
    let processor: PartitionProcessor;
    try {
      const previous = seen?.value as LeaseValue | undefined;
      const cp = previous?.cp ?? { in: 0, ev: 0 };
      const value = encodeJson({ owner: this.o.workerId, cp, at: new Date().toISOString() } satisfies LeaseValue);
      let revision: number;
      try {
        revision = seen ? await this.kv.update(`p.${p}`, value, seen.revision) : await this.kv.create(`p.${p}`, value);
      } catch {
        // Someone else moved first, or our view is stale: read the key so the next tick decides
        // on its current revision (the watch will also tell us, unless it is the thing that failed).
        const fresh = await this.kv.get(`p.${p}`).catch(() => null);
        if (fresh && fresh.revision !== seen?.revision) {
          try {
            this.view.set(`p.${p}`, { value: decodeJson(fresh.value), revision: fresh.revision, seenAt: Date.now() }); // a write we had missed: its owner was alive then
          } catch {
            /* not ours to parse */
          }
        }
        return;
      }
      processor = this.o.createProcessor(p, cp);
      this.owned.set(p, { revision, renewedAt: Date.now(), processor, lastPurged: Date.now() });
      this.o.logger.debug({ partition: p, from: previous?.owner ?? null, checkpoint: cp }, 'partition acquired');
      this.o.onOwnershipChange?.(this.owned.size);
    } finally {
      this.busy.delete(p);
    }
    // Started in the background: recovery may take a while and renewals must go on meanwhile.
    void processor.start().catch(async (err) => {
      this.o.logger.error({ err, partition: p }, 'partition failed to start; releasing it');
      if (this.owned.get(p)?.processor === processor) await this.release(p, true);
    });
  }

  private async renew(p: number): Promise<void> {
    const o = this.owned.get(p);
    if (!o) return;
    const cp = o.processor.checkpoint;
    try {
      o.revision = await this.kv.update(`p.${p}`, encodeJson({ owner: this.o.workerId, cp, at: new Date().toISOString() } satisfies LeaseValue), o.revision);
      o.renewedAt = Date.now();
    } catch (err) {
      // Lost it (someone took over while we were paused) or the server is unreachable: either
      // way stop writing now. The fence catches any append already in flight.
      this.o.logger.warn({ err: (err as Error).message, partition: p }, 'lease renewal failed; stopping the partition');
      this.owned.delete(p);
      this.o.onOwnershipChange?.(this.owned.size);
      await o.processor.stop(false);
      return;
    }
    if (Date.now() - o.lastPurged > PURGE_EVERY_MS && cp.in > 0) {
      o.lastPurged = Date.now();
      // Inbox messages behind the checkpoint are never read again.
      await this.o.hub.fabric
        .purge(this.o.hub.names.inboxStream, { filter: inboxFilter(this.o.hub.names.hub, p), beforeSeq: cp.in + 1 })
        .catch((err) => this.o.logger.warn({ err, partition: p }, 'inbox purge failed'));
    }
  }

  private async release(p: number, failed = false): Promise<void> {
    const o = this.owned.get(p);
    if (!o) return;
    this.busy.add(p);
    try {
      const cp = await o.processor.stop(!failed);
      this.owned.delete(p);
      this.o.onOwnershipChange?.(this.owned.size);
      await this.kv
        .update(`p.${p}`, encodeJson({ owner: null, cp, at: new Date().toISOString() } satisfies LeaseValue), o.revision)
        .catch((err) => this.o.logger.warn({ err: (err as Error).message, partition: p }, 'lease release write failed'));
      this.o.logger.debug({ partition: p, checkpoint: cp }, 'partition released');
    } finally {
      this.busy.delete(p);
    }
  }
}
