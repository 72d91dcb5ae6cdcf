/**
 * DF's entity API under `{webhooks}/entities`: signal (`POST ?op=`), read state, list; plus one
 * durable-nats extra, `POST .../entities/{name}/{key}/call?op=` (request/response).
 *
 * Invariants: a signal is answered 202 only once it is durable, and a bad name, operation or
 * input is a 400 before anything is written (the client validates against the hub's catalog);
 * reading a never-used entity is 404 (DF), not an empty 200.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EntityId } from '../core/entity-id.js';
import { DurableError } from '../core/errors.js';
import { bodyOf, type RouteContext } from './context.js';
import { dfEntityItem, WEBHOOK_BASE } from './payloads.js';
import { answerVersionQuery } from './routes-entity-history.js';
import { continuationOf, CONTINUATION_HEADER } from './routes-instances.js';
import { callQuery, entityListParams, entityListQuery, entityParams, parse, signalQuery } from './schemas.js';

const ENTITIES = `${WEBHOOK_BASE}/entities`;

export function registerEntityRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client } = ctx;
  const entityId = (params: unknown) => {
    const { name, key } = parse(entityParams, params, 'path');
    return new EntityId(name, key);
  };

  app.post(`${ENTITIES}/:name/:key`, async (request, reply) => {
    const id = entityId(request.params);
    const { op } = parse(signalQuery, request.query, 'query');
    await client.signalEntity(id, op, bodyOf(request));
    return reply.code(202).send();
  });

  app.post(`${ENTITIES}/:name/:key/call`, async (request, reply) => {
    const id = entityId(request.params);
    const { op, timeout } = parse(callQuery, request.query, 'query');
    const result = await client.callEntity(id, op, bodyOf(request), timeout === undefined ? {} : { timeoutMs: timeout });
    return reply
      .code(200)
      .type('application/json')
      .send(JSON.stringify(result ?? null));
  });

  app.get(`${ENTITIES}/:name/:key`, async (request, reply) => {
    const id = entityId(request.params);
    // ?version=N | ?at=ISO: a past version (routes-entity-history).
    if (await answerVersionQuery(ctx, id, request.query, reply)) return reply;
    const s = await client.readEntityState(id);
    if (!s.exists) throw new DurableError('not-found', `entity ${id.toString()} does not exist`);
    // Serialized here: fastify would send a bare string state as text, not as JSON.
    return reply
      .code(200)
      .type('application/json')
      .send(JSON.stringify(s.state ?? null));
  });

  app.get(ENTITIES, listHandler);
  app.get(`${ENTITIES}/:name`, listHandler);

  async function listHandler(request: FastifyRequest, reply: FastifyReply) {
    const { name } = parse(entityListParams, request.params, 'path');
    const q = parse(entityListQuery, request.query, 'query');
    const continuationToken = continuationOf(request, q.continuationToken);
    const fetchState = q.fetchState ?? false;
    const page = await client.listEntities({
      ...(name ? { name } : {}),
      ...(continuationToken ? { continuationToken } : {}),
      pageSize: q.top ?? 100,
      includeState: fetchState,
    });
    if (page.continuationToken) void reply.header(CONTINUATION_HEADER, page.continuationToken);
    return reply.code(200).send(page.entities.map((e) => dfEntityItem(e, fetchState)));
  }
}
