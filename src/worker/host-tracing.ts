/**
 * The spans of a worker's hosts: one per entity operation applied now, one per orchestration
 * episode (a batch of new messages for one instance). Each span's context is recorded in the
 * effects it causes (`ResolvedEffect.h`), so their receivers join the same trace, and recovery
 * re-publishes the same headers.
 *
 * Invariants: spans are opened only for what runs now (never for replayed history), and are ended
 * only once the batch is committed: a batch that fails its commit (fence, lost lease) and is
 * prepared again exports one set of spans, not two. Without an SDK nothing here allocates.
 */
import { attr, endSpan, recordError, spanHeaders, startSpan, SpanKind, tracingEnabled, withTraceHeaders, type Span, type TraceHeaders } from '../core/tracing.js';
import type { EntityId } from '../core/entity-id.js';
import type { ExecutedMessage } from '../entity/executor.js';
import type { InboxMessage, ResolvedEffect } from './actor-host.js';

/** Spans waiting for their batch's commit, and the trace headers of each for its effects. */
export interface PendingSpans {
  spans: Span[];
  /** Trace headers by inbox sequence (entities) or for the whole episode (key -1). */
  headers: Map<number, TraceHeaders>;
}

/** Ends the spans of a committed batch (no-op for undefined). */
export function endPending(p: PendingSpans | undefined): void {
  if (p) for (const s of p.spans) endSpan(s);
}

/** `fx` with the trace headers of the work that caused it (unchanged when there are none). */
export function tracedEffect(fx: ResolvedEffect, t: TraceHeaders | undefined): ResolvedEffect {
  return t ? { ...fx, h: withTraceHeaders(fx.h, t)! } : fx;
}

/**
 * One span per entity operation executed in this batch, under the trace of the message that
 * asked for it (a client's signal or call span, an orchestration episode, a raw producer's
 * `traceparent`). Undefined when tracing is off.
 */
export function traceEntityOperations(o: {
  id: EntityId;
  hub: string;
  partition: number;
  workerId?: string | undefined;
  messages: readonly InboxMessage[];
  executed: readonly ExecutedMessage[];
  startTime: number;
}): PendingSpans | undefined {
  if (!tracingEnabled() || o.executed.length === 0) return undefined;
  const bySeq = new Map<number, InboxMessage>();
  for (const m of o.messages) bySeq.set(m.seq, m);
  const pending: PendingSpans = { spans: [], headers: new Map() };
  for (const e of o.executed) {
    if (e.op.startsWith('__')) continue; // lock bookkeeping, not a user operation
    const span = startSpan(
      `entity ${o.id.name}.${e.op}`,
      SpanKind.CONSUMER,
      {
        [attr.hub]: o.hub,
        [attr.entityName]: o.id.name,
        [attr.entityKey]: o.id.key,
        [attr.operation]: e.op,
        [attr.partition]: o.partition,
        ...(o.workerId ? { [attr.workerId]: o.workerId } : {}),
      },
      bySeq.get(e.seq)?.trace ?? {},
      o.startTime,
    );
    if (!span) continue;
    if (!e.outcome.ok && e.outcome.error) recordError(span, e.outcome.error);
    pending.spans.push(span);
    const h = spanHeaders(span);
    if (h) pending.headers.set(e.seq, h);
  }
  return pending;
}

/**
 * The span of one orchestration episode, under the instance's start context (recorded in its
 * ExecutionStarted), or else the first traced message of the batch. Undefined when tracing is off.
 */
export function traceEpisode(o: {
  instanceId: string;
  name: string | undefined;
  hub: string;
  partition: number;
  workerId?: string | undefined;
  start: TraceHeaders | undefined;
  messages: readonly InboxMessage[];
  count: number;
  startTime: number;
  failure?: { message: string; code?: string | undefined; errorType?: string } | undefined;
}): PendingSpans | undefined {
  if (!tracingEnabled()) return undefined;
  const parent = o.start ?? o.messages.find((m) => m.trace)?.trace ?? {};
  const span = startSpan(
    `orchestration ${o.name ?? '?'}`,
    SpanKind.INTERNAL,
    {
      [attr.hub]: o.hub,
      [attr.instanceId]: o.instanceId,
      [attr.partition]: o.partition,
      [attr.messages]: o.count,
      ...(o.name ? { [attr.orchestration]: o.name } : {}),
      ...(o.workerId ? { [attr.workerId]: o.workerId } : {}),
    },
    parent,
    o.startTime,
  );
  if (!span) return undefined;
  if (o.failure) recordError(span, o.failure);
  const h = spanHeaders(span);
  return { spans: [span], headers: h ? new Map([[-1, h]]) : new Map() };
}
