/**
 * HTTP request spans: every request of the HTTP API is a SERVER span, the parent of the client
 * spans its handler opens (a start, a signal, a call), so one HTTP request is one trace with what
 * it caused. The parent is, in order: a request span an instrumentation already made active
 * (e.g. @fastify/otel), else the caller's `traceparent` header, else a new trace.
 *
 * Invariant: the span's context is active when the handler runs. It is entered in `preHandler`
 * (after the body is read: body chunks arrive on the socket's async context, not the request's),
 * whose continuation runs the handler. Without an SDK the hooks only call `done()`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { context, trace, type Context } from '@opentelemetry/api';
import { attr, endSpan, extractTrace, recordError, SpanKind, startSpan, tracingEnabled, type Span } from '../core/tracing.js';

const spans = new WeakMap<FastifyRequest, { span: Span; ctx: Context; error?: unknown }>();

export function installHttpTracing(app: FastifyInstance, hub: string): void {
  app.addHook('onRequest', (request, _reply, done) => {
    if (!tracingEnabled()) return done();
    // An instrumentation's request span is already active: it is the parent (nothing to add).
    if (trace.getSpan(context.active())) return done();
    const h = request.headers;
    const parent =
      typeof h.traceparent === 'string' ? extractTrace({ traceparent: h.traceparent, ...(typeof h.tracestate === 'string' ? { tracestate: h.tracestate } : {}) }) : undefined;
    const route = request.routeOptions.url ?? request.url.split('?')[0]!;
    const span = startSpan(
      `${request.method} ${route}`,
      SpanKind.SERVER,
      {
        [attr.hub]: hub,
        'http.request.method': request.method,
        'http.route': route,
      },
      parent ?? extractTrace(undefined),
    );
    if (span) spans.set(request, { span, ctx: trace.setSpan(parent ?? context.active(), span) });
    done();
  });
  app.addHook('preHandler', (request, _reply, done) => {
    const s = spans.get(request);
    if (!s) return done();
    context.with(s.ctx, done);
  });
  app.addHook('onError', (request, _reply, error, done) => {
    const s = spans.get(request);
    if (s) s.error = error;
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const s = spans.get(request);
    if (s) {
      s.span.setAttribute('http.response.status_code', reply.statusCode);
      // A 4xx is the caller's mistake, not a failed span (HTTP semantic conventions): only its code is kept.
      if (reply.statusCode >= 500 && s.error !== undefined) recordError(s.span, s.error);
      else if (typeof (s.error as { code?: unknown } | undefined)?.code === 'string') s.span.setAttribute(attr.errorCode, (s.error as { code: string }).code);
      endSpan(s.span);
      spans.delete(request);
    }
    done();
  });
}
