/**
 * DF's instance management API under `{webhooks}/instances`: status (with long poll), list,
 * raise event, terminate, suspend, resume, restart, rewind, purge (SSE is in sse.ts).
 *
 * Invariants (what the `durable-functions` client branches on): status is 200 once terminal and
 * 202 with `Location` before (Pending right after a start, never 404); 404 for an unknown
 * instance; 410 for an event or command sent to a finished one; `x-ms-continuation-token`
 * carries list paging both ways; purge answers `{ instancesDeleted }`; rewinding an instance that
 * is not Failed is 412.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DurableClient } from '../client/client.js';
import { isTerminal, type OrchestrationStatus } from '../client/status.js';
import { DurableError } from '../core/errors.js';
import { bodyOf, uriContext, waitForTerminal, type RouteContext } from './context.js';
import { sendError } from './errors.js';
import { checkStatusPayload, dfStatus, WEBHOOK_BASE } from './payloads.js';
import { eventParams, instanceParams, listQuery, parse, purgeQuery, reasonQuery, restartQuery, statusQuery } from './schemas.js';

const INSTANCES = `${WEBHOOK_BASE}/instances`;
export const CONTINUATION_HEADER = 'x-ms-continuation-token';

/** The continuation token from DF's header (or a `continuationToken` query parameter). */
export function continuationOf(request: FastifyRequest, fromQuery: string | undefined): string | undefined {
  const h = request.headers[CONTINUATION_HEADER];
  const token = (Array.isArray(h) ? h[0] : h) ?? fromQuery;
  return token && token.length > 0 && token !== 'null' ? token : undefined;
}

function notFound(instanceId: string): DurableError {
  return new DurableError('not-found', `no instance '${instanceId}'`);
}

/** 200 when terminal; 202 with Location (and Retry-After) while it may still change. */
function sendStatus(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, s: OrchestrationStatus, body: unknown) {
  if (isTerminal(s.runtimeStatus)) return reply.code(200).send(body);
  const location = checkStatusPayload(uriContext(ctx, request), s.instanceId).statusQueryGetUri;
  return reply.code(202).header('location', location).header('retry-after', '1').send(body);
}

type Command = (client: DurableClient, instanceId: string, reason: string | undefined) => Promise<void>;

const COMMANDS: Record<'terminate' | 'suspend' | 'resume', Command> = {
  terminate: (c, id, reason) => c.terminate(id, reason),
  suspend: (c, id, reason) => c.suspend(id, reason),
  resume: (c, id, reason) => c.resume(id, reason),
};

export function registerInstanceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client } = ctx;

  app.get(`${INSTANCES}/:instanceId`, async (request, reply) => {
    const { instanceId } = parse(instanceParams, request.params, 'path');
    const q = parse(statusQuery, request.query, 'query');
    const read = () => client.getStatus(instanceId, { showHistory: q.showHistory ?? false });
    const s = q.waitForCompletion === undefined ? await read() : await waitForTerminal(ctx, instanceId, q.waitForCompletion, read, request);
    if (!s) throw notFound(instanceId);
    return sendStatus(ctx, request, reply, s, dfStatus(s, { showInput: q.showInput ?? true, showHistoryOutput: q.showHistoryOutput ?? false }));
  });

  // `/instances` and `/instances/` are one route (ignoreTrailingSlash); DF's client uses the latter.
  app.get(INSTANCES, async (request, reply) => {
    const q = parse(listQuery, request.query, 'query');
    const continuationToken = continuationOf(request, q.continuationToken);
    const page = await client.listInstances({
      ...(q.runtimeStatus ? { runtimeStatus: q.runtimeStatus } : {}),
      ...(q.createdTimeFrom ? { createdFrom: q.createdTimeFrom } : {}),
      ...(q.createdTimeTo ? { createdTo: q.createdTimeTo } : {}),
      ...(q.namePrefix ? { namePrefix: q.namePrefix } : {}),
      ...(q.instanceIdPrefix ? { instanceIdPrefix: q.instanceIdPrefix } : {}),
      ...(continuationToken ? { continuationToken } : {}),
      pageSize: q.top ?? q.pageSize ?? 100,
    });
    const instances = page.instances;
    if (page.continuationToken) void reply.header(CONTINUATION_HEADER, page.continuationToken);
    return reply.code(200).send(instances.map((s) => dfStatus(s, { showInput: q.showInput ?? true })));
  });

  app.post(`${INSTANCES}/:instanceId/raiseEvent/:eventName`, async (request, reply) => {
    const { instanceId, eventName } = parse(eventParams, request.params, 'path');
    await client.raiseEvent(instanceId, eventName, bodyOf(request));
    return reply.code(202).send();
  });

  for (const [name, command] of Object.entries(COMMANDS)) {
    app.post(`${INSTANCES}/:instanceId/${name}`, async (request, reply) => {
      const { instanceId } = parse(instanceParams, request.params, 'path');
      const { reason } = parse(reasonQuery, request.query, 'query');
      await command(client, instanceId, reason);
      return reply.code(202).send();
    });
  }

  app.post(`${INSTANCES}/:instanceId/restart`, async (request, reply) => {
    const { instanceId } = parse(instanceParams, request.params, 'path');
    const { restartWithNewInstanceId } = parse(restartQuery, request.query, 'query');
    let id: string;
    if (restartWithNewInstanceId) {
      const s = await client.getStatus(instanceId);
      if (!s) throw notFound(instanceId);
      id = await client.startNew(s.name, s.input === undefined ? {} : { input: s.input });
    } else {
      id = await client.restart(instanceId);
    }
    const payload = checkStatusPayload(uriContext(ctx, request), id);
    return reply.code(202).header('location', payload.statusQueryGetUri).send(payload);
  });

  app.post(`${INSTANCES}/:instanceId/rewind`, async (request, reply) => {
    const { instanceId } = parse(instanceParams, request.params, 'path');
    const { reason } = parse(reasonQuery, request.query, 'query');
    const s = await client.getStatus(instanceId, { showInput: false });
    if (!s) throw notFound(instanceId);
    // 412 Precondition Failed: what DF answers, and what its client turns into "The rewind
    // operation is only supported on failed orchestration instances".
    if (s.runtimeStatus !== 'Failed') {
      return sendError(reply, 412, 'validation', `only Failed instances can be rewound; '${instanceId}' is ${s.runtimeStatus}`);
    }
    await client.rewind(instanceId, reason);
    return reply.code(202).send();
  });

  app.delete(`${INSTANCES}/:instanceId`, async (request, reply) => {
    const { instanceId } = parse(instanceParams, request.params, 'path');
    const { deleted } = await client.purge(instanceId);
    if (deleted === 0) throw notFound(instanceId);
    return reply.code(200).send({ instancesDeleted: deleted });
  });

  app.delete(INSTANCES, async (request, reply) => {
    const q = parse(purgeQuery, request.query, 'query');
    const { deleted } = await client.purgeInstances({
      ...(q.runtimeStatus ? { runtimeStatus: q.runtimeStatus } : {}),
      ...(q.createdTimeFrom ? { createdFrom: q.createdTimeFrom } : {}),
      ...(q.createdTimeTo ? { createdTo: q.createdTimeTo } : {}),
    });
    return reply.code(200).send({ instancesDeleted: deleted });
  });
}
