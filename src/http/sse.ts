/**
 * `GET {webhooks}/instances/{id}/events`: every status change of an instance as Server-Sent
 * Events (`event: status`, data = the DF status), pushed by the client's KV watch.
 *
 * Invariants: the stream ends after the first terminal status, when the caller disconnects, or
 * when the server closes (each stream is registered in ctx.streams, which close() aborts) — a
 * watch never outlives its stream; an unknown instance is a plain 404 before any event.
 */
import type { FastifyInstance } from 'fastify';
import { isTerminal } from '../client/status.js';
import { DurableError } from '../core/errors.js';
import type { RouteContext } from './context.js';
import { openEventStream } from './event-stream.js';
import { toHttpError } from './errors.js';
import { dfStatus, WEBHOOK_BASE } from './payloads.js';
import { instanceParams, parse, statusQuery } from './schemas.js';

export function registerSseRoute(app: FastifyInstance, ctx: RouteContext): void {
  app.get(`${WEBHOOK_BASE}/instances/:instanceId/events`, async (request, reply) => {
    const { instanceId } = parse(instanceParams, request.params, 'path');
    const showInput = parse(statusQuery, request.query, 'query').showInput ?? true;
    if (!(await ctx.client.getStatus(instanceId))) throw new DurableError('not-found', `no instance '${instanceId}'`);

    const stream = openEventStream(reply, ctx);
    const { res, stop } = stream;
    let last = '';
    let seq = 0;
    try {
      await ctx.client.watchStatus(
        instanceId,
        (s) => {
          const data = JSON.stringify(dfStatus(s, { showInput }));
          if (data === last) return; // a rewrite of the same status is not a change
          last = data;
          res.write(`id: ${++seq}\nevent: status\ndata: ${data}\n\n`);
          if (isTerminal(s.runtimeStatus)) stop.abort();
        },
        stop.signal,
      );
    } catch (e) {
      if (!res.writableEnded) res.write(`event: error\ndata: ${JSON.stringify(toHttpError(e).body)}\n\n`);
    } finally {
      stream.end();
    }
  });
}
