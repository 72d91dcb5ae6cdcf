/**
 * The key-less routes: `GET /api/status/{id}` (public status), `GET /healthz`,
 * `GET /openapi.json`.
 *
 * Invariant: nothing here reveals more than `{ id, status, result }` of an instance (no input,
 * custom status, failure details, history or management URI), so a status link can be handed to
 * an end user or a browser.
 */
import type { FastifyInstance } from 'fastify';
import { DurableError } from '../core/errors.js';
import type { RouteContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { publicStatus } from './payloads.js';
import { instanceParams, parse } from './schemas.js';

/** How long a health check waits for NATS to answer a round trip. */
const HEALTH_TIMEOUT_MS = 1_500;

export function registerPublicRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/api/status/:instanceId', async (request, reply) => {
    const { instanceId } = parse(instanceParams, request.params, 'path');
    const s = await ctx.client.getStatus(instanceId, { showInput: false });
    if (!s) throw new DurableError('not-found', `no instance '${instanceId}'`);
    return reply.code(200).send(publicStatus(s));
  });

  app.get('/healthz', async (_request, reply) => {
    const ok = await natsAnswers(ctx);
    return reply.code(ok ? 200 : 503).send(ok ? { ok: true } : { ok: false, error: 'NATS is not connected' });
  });

  app.get('/openapi.json', async (_request, reply) => reply.send(openApiDocument));
}

/** A flush is a round trip to the server: it only succeeds while the connection is up. */
async function natsAnswers(ctx: RouteContext): Promise<boolean> {
  if (!ctx.client.isConnected()) return false;
  return ctx.client.ping(HEALTH_TIMEOUT_MS).then(
    () => true,
    () => false,
  );
}
