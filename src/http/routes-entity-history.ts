/**
 * Entity history over HTTP (for the console and scripts), under `{webhooks}/entities/{name}/{key}`:
 * `?version=N | ?at=ISO` (state as of a version; wired from routes-entities' GET), `/history`,
 * `/watch` (Server-Sent Events, one event per version) and `POST /restore`.
 *
 * Invariants: every route is behind the system key (registered in the guarded scope); a watch
 * stream ends when the caller disconnects or the server closes (registered in ctx.streams).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { EntityHistoryEntry, EntityVersion } from '../client/entity-history.js';
import { EntityId } from '../core/entity-id.js';
import { DurableError } from '../core/errors.js';
import type { RouteContext } from './context.js';
import { openEventStream } from './event-stream.js';
import { bodyOf } from './context.js';
import { toHttpError } from './errors.js';
import { WEBHOOK_BASE } from './payloads.js';
import { entityParams, parse, queryBool } from './schemas.js';

const ENTITIES = `${WEBHOOK_BASE}/entities`;

const positive = z.string().regex(/^\d+$/, 'must be a positive integer').transform(Number).optional();
export const versionQuery = z.object({ version: positive, at: z.string().optional() }).passthrough();
const historyQuery = z.object({ fromVersion: positive, limit: positive, reverse: queryBool });
const restoreBody = z.object({ version: z.number().int().positive() });

const versionJson = (v: EntityVersion) => ({ exists: v.exists, ...(v.exists ? { state: v.state ?? null } : {}), version: v.version, time: v.time.toISOString() });
const entryJson = (v: EntityHistoryEntry) => ({
  version: v.version,
  time: v.time.toISOString(),
  exists: v.exists,
  state: v.exists ? (v.state ?? null) : null,
  operations: v.operations,
});

/**
 * `GET .../entities/{name}/{key}?version=N | ?at=ISO`: called by routes-entities' GET when either
 * is present. Returns true when it answered.
 */
export async function answerVersionQuery(ctx: RouteContext, id: EntityId, query: unknown, reply: FastifyReply): Promise<boolean> {
  const q = parse(versionQuery, query, 'query');
  if (q.version === undefined && q.at === undefined) return false;
  if (q.version !== undefined && q.at !== undefined) throw new DurableError('validation', 'give either version or at, not both');
  let at: Date | undefined;
  if (q.at !== undefined) {
    at = new Date(q.at);
    if (Number.isNaN(at.getTime())) throw new DurableError('validation', `'${q.at}' is not a date (use ISO 8601)`);
  }
  const v = await ctx.client.readEntityState(id, at ? { at } : { version: q.version! });
  await reply
    .code(200)
    .type('application/json')
    .send(JSON.stringify(versionJson(v)));
  return true;
}

export function registerEntityHistoryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client } = ctx;
  const entityId = (params: unknown) => {
    const { name, key } = parse(entityParams, params, 'path');
    return new EntityId(name, key);
  };

  app.get(`${ENTITIES}/:name/:key/history`, async (request, reply) => {
    const id = entityId(request.params);
    const q = parse(historyQuery, request.query, 'query');
    const page = await client.entityHistory(id, {
      ...(q.fromVersion !== undefined ? { fromVersion: q.fromVersion } : {}),
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
      ...(q.reverse ? { reverse: true } : {}),
    });
    return reply.code(200).send({ versions: page.versions.map(entryJson), ...(page.next !== undefined ? { next: page.next } : {}) });
  });

  app.post(`${ENTITIES}/:name/:key/restore`, async (request, reply) => {
    const id = entityId(request.params);
    const { version } = parse(restoreBody, bodyOf(request), 'body');
    return reply.code(200).send(await client.restoreEntity(id, { version }));
  });

  app.get(`${ENTITIES}/:name/:key/watch`, async (request, reply) => {
    const id = entityId(request.params);
    const stream = openEventStream(reply, ctx);
    const { res, stop } = stream;
    try {
      for await (const v of client.watchEntity(id, { signal: stop.signal })) {
        res.write(`id: ${v.version}\ndata: ${JSON.stringify(versionJson(v))}\n\n`);
      }
    } catch (e) {
      if (!res.writableEnded) res.write(`event: error\ndata: ${JSON.stringify(toHttpError(e).body)}\n\n`);
    } finally {
      stream.end();
    }
  });
}
