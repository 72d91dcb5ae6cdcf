/**
 * Errors over HTTP: one mapping from DurableError codes (and fastify's own errors) to status
 * codes and the body `{ error: { code, message } }`.
 *
 * Invariant: a caller's mistake (bad JSON, bad id, unknown name, oversized body, unknown route)
 * is a 4xx, never a 500; a 500 never carries internal details, only a generic message.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { DurableError, type DurableErrorCode } from '../core/errors.js';

/** `gone` is HTTP-only: the instance exists but has finished (DF answers 410). */
export type HttpErrorCode = DurableErrorCode | 'gone' | 'unauthorized' | 'internal';

const STATUS_OF: Record<DurableErrorCode, number> = {
  validation: 400,
  'not-found': 404,
  'instance-exists': 409,
  timeout: 504,
  // The entity operation threw: the request was well-formed but the application refused it.
  'operation-failed': 422,
  nondeterminism: 500,
  fenced: 503,
  connection: 503,
};

export interface ErrorBody {
  error: { code: HttpErrorCode; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: HttpErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

export function sendError(reply: FastifyReply, status: number, code: HttpErrorCode, message: string, details?: Record<string, unknown>): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send(errorBody(code, message, details));
}

/** Status and body for any thrown value. A finished instance ('not-found' with details.gone) is 410. */
export function toHttpError(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof DurableError) {
    if (e.code === 'not-found' && e.details?.gone === true) {
      return { status: 410, body: errorBody('gone', e.message, { runtimeStatus: e.details.runtimeStatus }) };
    }
    return { status: STATUS_OF[e.code], body: errorBody(e.code, e.message) };
  }
  const fe = e as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // fastify's own client errors: body too large (413), unsupported media type (415), ...
    return { status: fe.statusCode, body: errorBody('validation', fe.message ?? 'bad request') };
  }
  return { status: 500, body: errorBody('internal', 'internal server error') };
}

/** Installs the error and not-found handlers on `app` (and so on every route it registers). */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((e, request, reply) => {
    const { status, body } = toHttpError(e);
    if (status >= 500) request.log.error({ err: e }, 'request failed');
    void reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void sendError(reply, 404, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });
}
