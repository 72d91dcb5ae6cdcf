/**
 * Tracing glue: the only importer of `@opentelemetry/api`. Spans, and W3C trace context carried in
 * a plain header record (`traceparent`, `tracestate`) that travels in NATS headers and, where a
 * later hop needs it, inside what is stored (an orchestration's ExecutionStarted, a timer record,
 * an effect's `h`).
 *
 * Invariants:
 * - trace context is never history: nothing a replay compares contains it, and a host opens a
 *   span only for the work it does now (an episode's new messages, an operation applied now), never
 *   for steps a replay skips;
 * - with no SDK registered (the default), nothing is allocated per message: `tracingEnabled()` is
 *   false, every helper returns `undefined` or runs the callback as is, and no header is added.
 *
 * The application's registered propagator is used when it has one (NodeTracerProvider.register()
 * installs W3C trace context); otherwise the built-in `traceparent`/`tracestate` codec below.
 */
import {
  context,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';

export { SpanKind, type Span };

/** Trace context as message headers: `traceparent` and, when present, `tracestate`. */
export type TraceHeaders = Record<string, string>;

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/** Attribute names on every span durable-nats emits (a stable, documented set: docs/observability.md). */
export const attr = {
  hub: 'durable.hub',
  entityName: 'durable.entity.name',
  entityKey: 'durable.entity.key',
  operation: 'durable.operation',
  instanceId: 'durable.instance_id',
  orchestration: 'durable.orchestration',
  activity: 'durable.activity',
  taskId: 'durable.task_id',
  attempt: 'durable.attempt',
  partition: 'durable.partition',
  workerId: 'durable.worker_id',
  errorCode: 'durable.error_code',
  messages: 'durable.messages',
  messagingSystem: 'messaging.system',
  destination: 'messaging.destination.name',
} as const;

const TRACER_NAME = 'durable-nats';
const TRACER_VERSION = '0.1.0';

/** `new ProxyTracerProvider().getDelegate()` is the API's no-op provider: what an unset global delegates to. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** True once the application registered a tracer provider (checked per use: it may register late). */
export function tracingEnabled(): boolean {
  const p = trace.getTracerProvider();
  return !(p instanceof ProxyTracerProvider) || p.getDelegate() !== NOOP_PROVIDER;
}

function tracer() {
  return trace.getTracer(TRACER_NAME, TRACER_VERSION);
}

const setter: TextMapSetter<TraceHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
const getter: TextMapGetter<TraceHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key] ?? carrier[key.toLowerCase()],
};

/** The registered propagator has fields (the API's no-op has none). */
function appPropagator(): boolean {
  return propagation.fields().length > 0;
}

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The trace context of `ctx` (default: the active one) as headers; undefined when tracing is off
 * or there is no valid span context to pass on.
 */
export function injectTrace(ctx?: Context): TraceHeaders | undefined {
  if (!tracingEnabled()) return undefined;
  const c = ctx ?? context.active();
  const headers: TraceHeaders = {};
  if (appPropagator()) {
    propagation.inject(c, headers, setter);
  } else {
    const sc = trace.getSpanContext(c);
    if (!sc || !trace.isSpanContextValid(sc)) return undefined;
    headers[TRACEPARENT] = `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
    const state = sc.traceState?.serialize();
    if (state) headers[TRACESTATE] = state;
  }
  return headers[TRACEPARENT] ? headers : undefined;
}

/** A context whose remote parent is the one in `headers` (the root context when there is none). */
export function extractTrace(headers: TraceHeaders | undefined): Context {
  if (!headers?.[TRACEPARENT]) return ROOT_CONTEXT;
  if (appPropagator()) return propagation.extract(ROOT_CONTEXT, headers, getter);
  const m = TRACEPARENT_RE.exec(headers[TRACEPARENT].trim().toLowerCase());
  if (!m) return ROOT_CONTEXT;
  const sc: SpanContext = { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
  return trace.isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** Headers merged with trace headers (either may be absent). */
export function withTraceHeaders(headers: Record<string, string> | undefined, t: TraceHeaders | undefined): Record<string, string> | undefined {
  if (!t) return headers;
  return headers ? { ...headers, ...t } : t;
}

/**
 * Starts a span under `parent` (headers from a message, or a context); undefined when tracing is
 * off. End it with `endSpan`.
 */
export function startSpan(name: string, kind: SpanKind, attributes: Attributes, parent?: TraceHeaders | Context, startTime?: number): Span | undefined {
  if (!tracingEnabled()) return undefined;
  const ctx = parent === undefined ? context.active() : isContext(parent) ? parent : extractTrace(parent);
  return tracer().startSpan(name, { kind, attributes, ...(startTime !== undefined ? { startTime } : {}) }, ctx);
}

/** Records `error` (with its DurableError code) on the span, if any, and ends it. */
export function endSpan(span: Span | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined) recordError(span, error);
  span.end();
}

/** Marks a span failed with the error's message and `durable.error_code` (DurableError code or errorType). */
export function recordError(span: Span, error: unknown): void {
  const e = error as { message?: string; code?: unknown; errorType?: unknown; name?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code) span.setAttribute(attr.errorCode, code);
  if (error instanceof Error) span.recordException(error);
  else span.addEvent('exception', { 'exception.message': String(e?.message ?? error), 'exception.type': String(e?.errorType ?? e?.name ?? 'Error') });
  span.setStatus({ code: SpanStatusCode.ERROR, message: String(e?.message ?? error) });
}

/** The trace headers of a span (to record with the work it causes). */
export function spanHeaders(span: Span | undefined): TraceHeaders | undefined {
  return span ? injectTrace(trace.setSpan(ROOT_CONTEXT, span)) : undefined;
}

/**
 * Runs `fn` inside an active span (so what it publishes carries the span's context), recording a
 * thrown error. Without an SDK, runs `fn` directly.
 */
export function withSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: () => Promise<T>, resultAttributes?: (result: T) => Attributes): Promise<T> {
  if (!tracingEnabled()) return fn();
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      const result = await fn();
      if (resultAttributes) span.setAttributes(resultAttributes(result));
      return result;
    } catch (e) {
      recordError(span, e);
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Runs `fn` with `span` active (user code it calls nests its own spans under it); `fn` as is without a span. */
export function inSpan<T>(span: Span | undefined, fn: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}

/** The trace headers of a NATS message (undefined when it has no `traceparent`). */
export function traceFromNatsHeaders(h: { get(k: string): string | undefined } | undefined): TraceHeaders | undefined {
  if (!h) return undefined;
  const parent = h.get(TRACEPARENT);
  if (!parent) return undefined;
  const state = h.get(TRACESTATE);
  return state ? { [TRACEPARENT]: parent, [TRACESTATE]: state } : { [TRACEPARENT]: parent };
}

function isContext(x: TraceHeaders | Context): x is Context {
  return typeof (x as Context).getValue === 'function';
}
