/**
 * TimerIndex: the durable timers and scheduled signals of one partition.
 * A timer arrives as a registration message on the partition inbox ('<hub>.in.<p>.t'), is written
 * to the timer bucket (key '<p>.<id>') before the batch that carried it completes, is kept in
 * memory in due order, and when due its message is published (dedupe id 'tm:<id>') and the key
 * deleted. A new owner reloads the partition's keys.
 *
 * Invariant (6: nothing waits in memory only): a timer is in the bucket before its registration
 * is behind the partition checkpoint, and leaves the bucket only after its message is durable.
 */
import type { KV } from '@nats-io/kv';
import { decodeJson, encodeJson } from '../core/codec.js';
import { timerKey } from '../core/topology.js';
import { attr, endSpan, recordError, spanHeaders, SpanKind, startSpan, type TraceHeaders } from '../core/tracing.js';
import type { LeanPublisher } from '../store/lean-publisher.js';

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
  bucket: KV;
  publisher: LeanPublisher;
  onFired?: (lagMs: number) => void;
  onError?: (e: unknown) => void;
}

export class TimerIndex {
  /** Sorted by `at` ascending. */
  private readonly due: TimerRecord[] = [];
  private readonly ids = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private firing = false;
  private stopped = false;

  constructor(private readonly o: TimerIndexOptions) {}

  get size(): number {
    return this.due.length;
  }

  async load(): Promise<void> {
    const keys: string[] = [];
    const iter = await this.o.bucket.keys(`${this.o.partition}.>`);
    for await (const k of iter) keys.push(k);
    for (const k of keys) {
      const e = await this.o.bucket.get(k);
      if (e && e.operation === 'PUT' && e.length > 0) this.insert(decodeJson<TimerRecord>(e.value));
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
    if (this.timer) clearTimeout(this.timer);
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
    if (this.timer) clearTimeout(this.timer);
    const next = this.due[0];
    if (!next) return;
    // setTimeout caps at ~24.8 days; re-arm on wake when further away.
    const delay = Math.min(Math.max(0, next.at - Date.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => void this.fire(), delay);
  }

  /** Publishes a due timer's message, in a span under the trace that scheduled it (if any). */
  private async publish(t: TimerRecord): Promise<unknown> {
    const span = t.h ? startSpan('timer fired', SpanKind.PRODUCER, { [attr.partition]: this.o.partition, 'durable.timer_id': t.id, [attr.destination]: t.s }, t.h) : undefined;
    const headers = spanHeaders(span) ?? t.h;
    try {
      return await this.o.publisher.publish(t.s, encodeJson(t.d), { msgId: `tm:${t.id}`, ...(headers ? { headers } : {}) });
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
      const now = Date.now();
      const batch: TimerRecord[] = [];
      while (this.due.length > 0 && this.due[0]!.at <= now && batch.length < 1000) batch.push(this.due.shift()!);
      const results = await Promise.allSettled(batch.map((t) => this.publish(t)));
      const deletes: Promise<unknown>[] = [];
      results.forEach((r, i) => {
        const t = batch[i]!;
        if (r.status === 'fulfilled') {
          this.ids.delete(t.id);
          this.o.onFired?.(Date.now() - t.at);
          deletes.push(this.o.bucket.delete(timerKey(this.o.partition, t.id)).catch((e) => this.o.onError?.(e)));
        } else {
          this.o.onError?.(r.reason);
          this.ids.delete(t.id);
          this.insert({ ...t, at: Date.now() + 500 }); // retry shortly; the dedupe id keeps it single
        }
      });
      await Promise.all(deletes);
    } finally {
      this.firing = false;
      this.arm();
    }
  }
}
