/**
 * Starting orchestrations over HTTP, in the three forms offered:
 * - `POST {webhooks}/orchestrators/{name}[/{id}]` and `POST /api/orchestrators/{name}[/{id}]`
 *   (DF): 202 with the check-status payload and `Location` = its statusQueryGetUri;
 * - `POST /api/start/{name}[/{id}]`: 202 with `{ id, statusUri }` only, for callers that must
 *   not be handed management URIs (they embed the system key).
 *
 * Also `GET {webhooks}/client-data`: the binding data a `durable-functions` client needs.
 *
 * Invariants: all three are behind the system key (the caller registers them in a protected
 * scope); the start is durable before the 202 (startNew resolves on the PubAck), and the status
 * is already readable (Pending, never 404) when the caller follows the link.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTerminal } from '../client/status.js';
import { bodyOf, uriContext, waitForTerminal, type RouteContext } from './context.js';
import { checkStatusPayload, clientData, dfStatus, WEBHOOK_BASE } from './payloads.js';
import { parse, startParams, startQuery } from './schemas.js';

type View = 'management' | 'minimal';

async function startInstance(ctx: RouteContext, request: FastifyRequest): Promise<string> {
  const { name, instanceId } = parse(startParams, request.params, 'path');
  const input = bodyOf(request);
  return ctx.client.startNew(name, { ...(input === undefined ? {} : { input }), ...(instanceId === undefined ? {} : { instanceId }) });
}

function handler(ctx: RouteContext, view: View) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { timeout } = parse(startQuery, request.query, 'query');
    const id = await startInstance(ctx, request);
    if (view === 'minimal') {
      const statusUri = `/api/status/${encodeURIComponent(id)}`;
      return reply.code(202).header('location', statusUri).send({ id, statusUri });
    }
    const payload = checkStatusPayload(uriContext(ctx, request), id);
    if (timeout !== undefined) {
      // DF's start-and-wait: the result at once if it finishes in time, else the usual 202.
      const s = await waitForTerminal(ctx, id, timeout, () => ctx.client.getStatus(id), request);
      if (s && isTerminal(s.runtimeStatus)) return reply.code(200).send(dfStatus(s));
    }
    return reply.code(202).header('location', payload.statusQueryGetUri).header('retry-after', '1').send(payload);
  };
}

/** Registers the start routes on a scope that already requires the system key. */
export function registerStartRoutes(app: FastifyInstance, ctx: RouteContext): void {
  for (const prefix of [`${WEBHOOK_BASE}/orchestrators`, '/api/orchestrators']) {
    app.post(`${prefix}/:name`, handler(ctx, 'management'));
    app.post(`${prefix}/:name/:instanceId`, handler(ctx, 'management'));
  }
  app.post('/api/start/:name', handler(ctx, 'minimal'));
  app.post('/api/start/:name/:instanceId', handler(ctx, 'minimal'));
  // What a `durable-functions` DurableClient is constructed with, to talk to this server.
  app.get(`${WEBHOOK_BASE}/client-data`, async (request) => clientData(uriContext(ctx, request)));
}
