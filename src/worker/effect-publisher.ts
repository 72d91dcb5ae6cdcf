/**
 * EffectPublisher: everything a partition publishes besides its events: the effects recorded in
 * committed events (signals, activity work items, timers, starts, status writes), dead letters,
 * and messages forwarded to their home partition; and the recovery of effects that a crash left
 * only inside events.
 *
 * Invariants:
 * - every publish carries a deterministic dedupe id, so publishing an effect again (recovery, a
 *   retried batch) is harmless within the stream's duplicate window;
 * - a status write from a worker that may have lost its lease never overwrites a status of a later
 *   history position (compare-and-set on the stored `_v`);
 * - recovery never acts on a record whose last part was never written.
 */
import type { Logger } from 'pino';
import { decodeJson, encodeJson } from '../core/codec.js';
import { DurableError } from '../core/errors.js';
import { deadLetterSubject, eventFilter, inboxSubject } from '../core/topology.js';
import { RecordParts, type EventRecord } from '../store/history-records.js';
import type { Hub } from '../store/hub.js';
import type { DeadLetterRecord, InboxMessage, ResolvedEffect } from './actor-host.js';
import type { OwedEffects } from './local-activities.js';
import type { WorkerMetrics } from './metrics.js';

export interface EffectPublisherDeps {
  /** Publishes, scans and purges go through `hub.fabric`; guarded status writes through `hub.kv.status`. */
  hub: Hub;
  partition: number;
  logger: Logger;
  metrics: WorkerMetrics;
  leaseValid: () => boolean;
  /** Trims of the whole worker, bounded (a filtered purge makes nats-server 2.9 read the stream). */
  trims: TrimLimiter;
}

/**
 * The retention trims of a worker: queued once per subject (a newer request for the same subject
 * replaces the older one) and run at most `concurrency` at a time. Without a bound, a sustained
 * load over many entities asked for filtered purges faster than nats-server 2.9.10 could do them,
 * and the server stopped answering publishes. Only an overflow of `maxPending` distinct subjects
 * drops requests (counted); such an entity is trimmed at its next request.
 */
export class TrimLimiter {
  private readonly pending = new Map<string, () => Promise<void>>();
  private running = 0;
  dropped = 0;

  constructor(
    private readonly concurrency = 2,
    private readonly maxPending = 10_000,
  ) {}

  run(subject: string, task: () => Promise<void>): void {
    if (!this.pending.has(subject) && this.pending.size >= this.maxPending) {
      this.dropped++;
      return;
    }
    this.pending.set(subject, task);
    this.next();
  }

  private next(): void {
    while (this.running < this.concurrency && this.pending.size > 0) {
      const [subject, task] = this.pending.entries().next().value as [string, () => Promise<void>];
      this.pending.delete(subject);
      this.running++;
      void task().finally(() => {
        this.running--;
        this.next();
      });
    }
  }
}

export class EffectPublisher {
  constructor(private readonly d: EffectPublisherDeps) {}

  publish(fx: ResolvedEffect): Promise<unknown> {
    // A worker that was paused past its lease may reach this after the new owner moved on:
    // a status write must then not go backwards.
    if (fx.v !== undefined && !this.d.leaseValid()) return this.guardedStatusWrite(fx);
    const data = fx.d === undefined ? new Uint8Array(0) : encodeJson(fx.d);
    return this.d.hub.fabric.publish(fx.s, data, { ...(fx.id ? { msgId: fx.id } : {}), ...(fx.h ? { headers: fx.h } : {}) });
  }

  deadLetter(dl: DeadLetterRecord): Promise<unknown> {
    this.d.metrics.deadLetters.inc();
    this.d.logger.warn({ seq: dl.seq, subject: dl.subject, reason: dl.reason }, 'message dead-lettered');
    return this.d.hub.fabric.publish(deadLetterSubject(this.d.hub.names.hub, this.d.partition), dl.data, {
      // A local activity result was never in the inbox (seq 0): no dedupe id to derive.
      ...(dl.seq > 0 ? { msgId: dl.part === undefined ? `dlq:${dl.seq}` : `dlq:${dl.seq}:${dl.subject}:${dl.part}` } : {}),
      headers: { 'Dn-Reason': dl.reason.slice(0, 1000), 'Dn-Subject': dl.subject, 'Dn-Seq': String(dl.seq) },
    });
  }

  /** A message hashed by a producer with another partition count goes to its home partition. */
  forward(m: InboxMessage, home: number, part?: number): Promise<unknown> {
    const id = part === undefined ? `fwd:${this.d.partition}:${m.seq}` : `fwd:${this.d.partition}:${m.seq}:${part}`;
    return this.d.hub.fabric.publish(inboxSubject(this.d.hub.names.hub, home, m.actorToken), m.data, { msgId: id });
  }

  /**
   * Publishes again the effects recorded in this partition's events after `afterEventSeq` (a crash
   * or a failed batch between an append and its effects). Returns the count and the last event
   * sequence seen.
   */
  async recover(afterEventSeq: number): Promise<{ count: number; lastEventSeq: number }> {
    const { hub } = this.d;
    let count = 0;
    const pending: Promise<unknown>[] = [];
    // Parts of a record that was not finished (no last part) are never acted on.
    const records = new RecordParts<unknown, ResolvedEffect>();
    const last = await hub.fabric.scan(hub.names.eventStream, eventFilter(hub.names.hub, this.d.partition), afterEventSeq + 1, (m) => {
      let record: EventRecord<unknown, ResolvedEffect>;
      try {
        record = decodeJson(m.data);
      } catch (err) {
        this.d.logger.error({ err, seq: m.seq, subject: m.subject }, 'unreadable event skipped by effect recovery');
        return;
      }
      const finished = records.add(m.subject, record);
      if (!finished) return;
      for (const fx of finished.fx) {
        // Observed at once: a publish failing while the scan goes on must not reject unobserved.
        const p = this.publish(fx);
        p.catch(() => undefined);
        pending.push(p);
        count++;
      }
    });
    await Promise.all(pending);
    return { count, lastEventSeq: Math.max(last, afterEventSeq) };
  }

  /**
   * Publishes the effects a checkpoint lists as owed (activities the previous owner ran locally and
   * whose result never became durable), each read from its event. An event that is gone (its
   * instance was purged or continued as new) owes nothing any more. Returns how many were published.
   */
  async recoverOwed(owed: OwedEffects[]): Promise<number> {
    const { hub } = this.d;
    let count = 0;
    for (const entry of owed) {
      const fx: ResolvedEffect[] = [];
      for (let seq = entry.q; ; ) {
        const m = await hub.fabric.readNext(hub.names.eventStream, entry.s, seq);
        if (!m || (seq === entry.q && m.seq !== entry.q)) break; // the event is gone
        const record = decodeJson<EventRecord<unknown, ResolvedEffect>>(m.data);
        fx.push(...(record.fx ?? []));
        if (!record.more) break;
        seq = m.seq + 1;
      }
      const present = entry.x.flatMap((x) => (fx[x] ? [fx[x]] : []));
      await Promise.all(present.map((effect) => this.publish(effect)));
      count += present.length;
    }
    return count;
  }

  /**
   * Retention: removes all but the newest `keep` events of one actor's subject. Called only once
   * the batch that asked for it is durable, so every event removed belongs to a batch whose effects
   * are durable (and which no recovery needs). Never rejects: a failed trim is only late (the
   * next one of that entity keeps the newest `keep` again).
   */
  trim(t: { subject: string; keep: number }): void {
    this.d.trims.run(t.subject, async () => {
      try {
        await this.d.hub.fabric.purge(this.d.hub.names.eventStream, { filter: t.subject, keep: t.keep });
      } catch (err) {
        this.d.logger.warn({ err: (err as Error).message, subject: t.subject }, 'history trim failed; a later one will catch up');
      }
    });
  }

  /** Writes a status record only if the stored one is not from a later position of history. */
  private async guardedStatusWrite(fx: ResolvedEffect): Promise<unknown> {
    const status = this.d.hub.kv.status;
    const key = fx.s.slice(`$KV.${this.d.hub.names.statusBucket}.`.length);
    const current = await status.get(key);
    const stored = current && current.value.length > 0 ? (decodeJson<{ _v?: number }>(current.value)._v ?? 0) : -1;
    if (stored > fx.v!) {
      this.d.logger.warn({ key, stale: fx.v, stored }, 'stale status write from a lost lease dropped');
      return undefined;
    }
    const data = encodeJson(fx.d);
    try {
      return current ? await status.update(key, data, current.revision) : await status.create(key, data);
    } catch (err) {
      // Someone wrote in between: the new owner, whose status is at least as recent. Nothing to do.
      if (DurableError.is(err, 'fenced')) {
        this.d.logger.debug({ key }, 'status changed under a guarded write; kept the newer one');
        return undefined;
      }
      throw err;
    }
  }
}
