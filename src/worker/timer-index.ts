/**
 * TimerIndex: the durable timers and scheduled signals of one partition.
 * A timer arrives as a registration message on the partition inbox ('<hub>.in.<p>.t'), is written
 * to the timer bucket (key '<p>.<id>') before the batch that carried it completes, is kept in
 * memory in due order, and when due its message is published (dedupe id 'tm:<id>') and the key
 * deleted. A new owner reloads the partition's keys.
 *
 * Invariant (6: nothing waits in memory only): a timer is in the bucket before its registration
 * is behind the partition checkpoint, and leaves the bucket only after its message is durable.
 * Due times are read and waited for on the fabric's clock (one clock: the test kit's virtual time
 * fires them), never before their time by that clock.
 */
import type { CancelTimer, Clock } from '../core/clock.js';
import { decodeJson, encodeJson } from '../core/codec.js';
import { timerKey } from '../core/topology.js';
import { attr, endSpan, recordError, spanHeaders, SpanKind, startSpan, type TraceHeaders } from '../core/tracing.js';
import type { KvBucket, StreamFabric } from '../store/fabric.js';

export interface TimerRecord {
  id: string;
  /** Due time, ms since epoch. */
  at: number;
  /** Subject and JSON body to publish when due. */
  s: string;
  d: unknown;
  /** W3C trace context of whoever scheduled it (`traceparent`): the fired message joins that trace. */
  h?: TraceHeaders;
}

export interface TimerIndexOptions {
  partition: number;
  /** The hub's timer bucket (`hub.kv.timers`). */
  bucket: KvBucket;
  /** Where due messages are published (the hub's fabric). */
  fabric: Pick<StreamFabric, 'publish'>;
  /** The engine's clock (`hub.fabric.clock`). */
  clock: Clock;
  onFired?: (lagMs: number) => void;
  onError?: (e: unknown) => void;
}

export class TimerIndex {
  /** Sorted by `at` ascending. */
  private readonly due: TimerRecord[] = [];
  private readonly ids = new Set<string>();
  private cancelTimer: CancelTimer | undefined;
  private firing = false;
  private stopped = false;

  constructor(private readonly o: TimerIndexOptions) {}

  get size(): number {
    return this.due.length;
  }

  /** Due timers are being published now. */
  get busy(): boolean {
    return this.firing;
  }

  async load(): Promise<void> {
    const keys = await this.o.bucket.keys(`${this.o.partition}.>`);
    for (const k of keys) {
      const e = await this.o.bucket.get(k);
      if (e && e.value.length > 0) this.insert(decodeJson<TimerRecord>(e.value));
    }
    this.arm();
  }

  async register(t: TimerRecord): Promise<void> {
    if (this.ids.has(t.id)) return;
    await this.o.bucket.put(timerKey(this.o.partition, t.id), encodeJson(t));
    this.insert(t);
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
  }

  private insert(t: TimerRecord): void {
    if (this.ids.has(t.id)) return;
    this.ids.add(t.id);
    let lo = 0;
    let hi = this.due.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.due[mid]!.at <= t.at) lo = mid + 1;
      else hi = mid;
    }
    this.due.splice(lo, 0, t);
  }

  private arm(): void {
    if (this.stopped || this.firing) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const next = this.due[0];
    if (!next) return;
    this.cancelTimer = this.o.clock.setTimer(next.at, () => void this.fire());
  }

  /** Publishes a due timer's message, in a span under the trace that scheduled it (if any). */
  private async publish(t: TimerRecord): Promise<unknown> {
    const span = t.h ? startSpan('timer fired', SpanKind.PRODUCER, { [attr.partition]: this.o.partition, 'durable.timer_id': t.id, [attr.destination]: t.s }, t.h) : undefined;
    const headers = spanHeaders(span) ?? t.h;
    try {
      return await this.o.fabric.publish(t.s, encodeJson(t.d), { msgId: `tm:${t.id}`, ...(headers ? { headers } : {}) });
    } catch (e) {
      if (span) recordError(span, e);
      throw e;
    } finally {
      endSpan(span);
    }
  }

  private async fire(): Promise<void> {
    if (this.stopped) return;
    this.firing = true;
    try {
      const now = this.o.clock.now();
      const batch: TimerRecord[] = [];
      while (this.due.length > 0 && this.due[0]!.at <= now && batch.length < 1000) batch.push(this.due.shift()!);
      const results = await Promise.allSettled(batch.map((t) => this.publish(t)));
      const deletes: Promise<unknown>[] = [];
      results.forEach((r, i) => {
        const t = batch[i]!;
        if (r.status === 'fulfilled') {
          this.ids.delete(t.id);
          this.o.onFired?.(this.o.clock.now() - t.at);
          deletes.push(this.o.bucket.delete(timerKey(this.o.partition, t.id)).catch((e) => this.o.onError?.(e)));
        } else {
          this.o.onError?.(r.reason);
          this.ids.delete(t.id);
          this.insert({ ...t, at: this.o.clock.now() + 500 }); // retry shortly; the dedupe id keeps it single
        }
      });
      await Promise.all(deletes);
    } finally {
      this.firing = false;
      this.arm();
    }
  }
}
