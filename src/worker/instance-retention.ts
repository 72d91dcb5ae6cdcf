/**
 * Retention of finished orchestration instances: the worker that owns partition 0 sweeps the
 * status bucket now and then and purges (history, then status) every instance that reached a
 * terminal status longer ago than the hub's retention. Off unless configured (Durable Functions'
 * users expect finished instances to stay until they purge them).
 *
 * Invariant: only terminal instances are purged (Completed, Failed, Terminated), each one's status
 * read again just before its purge, so a run restarted since the sweep's pass is kept. Ages and the
 * time between sweeps are on the fabric's clock (the test kit's virtual time ages instances).
 */
import type { Logger } from 'pino';
import type { CancelTimer } from '../core/clock.js';
import { scanStatuses } from '../client/status-scan.js';
import { decodeStatusEntry, isTerminal } from '../client/status.js';
import type { Hub } from '../store/hub.js';
import { purgeInstanceRecords } from '../store/instance-records.js';
import { statusKey } from '../core/topology.js';

export interface InstanceRetentionOptions {
  hub: Hub;
  logger: Logger;
  /** Purge instances whose terminal status is older than this. */
  afterMs: number;
  /** True while this worker should sweep (it owns partition 0): one sweeper per hub. */
  isSweeper: () => boolean;
  /** Between sweeps (default: a tenth of `afterMs`, between 10 s and 1 h). */
  everyMs?: number;
}

export class InstanceRetention {
  private cancelTimer: CancelTimer | undefined;
  private stopped = false;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly o: InstanceRetentionOptions) {}

  start(): void {
    const every = this.o.everyMs ?? Math.min(3_600_000, Math.max(10_000, Math.floor(this.o.afterMs / 10)));
    const clock = this.o.hub.fabric.clock;
    const arm = () => {
      if (this.stopped) return;
      this.cancelTimer = clock.setTimer(clock.now() + every, () => {
        if (!this.o.isSweeper() || this.sweeping) return arm();
        this.sweeping = this.sweep()
          .catch((err: Error) => {
            this.o.logger.warn({ err: err.message }, 'instance retention sweep failed; the next one will retry');
            return 0;
          })
          .finally(() => {
            this.sweeping = undefined;
            arm();
          });
      });
    };
    arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.sweeping;
  }

  /** One pass: purges what is due; returns how many instances were purged. */
  async sweep(now = this.o.hub.fabric.clock.now()): Promise<number> {
    const cutoff = now - this.o.afterMs;
    const due = (s: { runtimeStatus: Parameters<typeof isTerminal>[0]; lastUpdatedTime: string }) => isTerminal(s.runtimeStatus) && Date.parse(s.lastUpdatedTime) <= cutoff;
    const { statuses } = await scanStatuses(this.o.hub, 0, Infinity, due, { deadlineMs: 120_000 });
    let purged = 0;
    for (const s of statuses) {
      const current = await this.o.hub.kv.status.get(statusKey(s.instanceId));
      if (!current || current.value.length === 0) continue;
      if (!due(decodeStatusEntry(current.value).status)) continue; // restarted since the pass
      await purgeInstanceRecords(this.o.hub, s.instanceId);
      purged++;
    }
    if (purged > 0) this.o.logger.info({ purged, olderThanMs: this.o.afterMs }, 'finished instances purged (retention)');
    return purged;
  }
}
