/**
 * Schedules over HTTP (for the console and scripts), under `{webhooks}/schedules`: list, get,
 * create (201 / 409 / 400), pause, resume, trigger, delete. Dates are ISO strings.
 *
 * Invariant: behind the system key (registered in the guarded scope); the definition is
 * validated by the client before anything is written (400 names the reason).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DurableError } from '../core/errors.js';
import type { ScheduleOptions } from '../schedule/definition.js';
import { bodyOf, type RouteContext } from './context.js';
import { WEBHOOK_BASE } from './payloads.js';
import { parse } from './schemas.js';

const SCHEDULES = `${WEBHOOK_BASE}/schedules`;
const idParams = z.object({ id: z.string().min(1).max(128) });
const createBody = z.object({ id: z.string().min(1).max(128) }).passthrough();

export function registerScheduleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client } = ctx;

  app.get(SCHEDULES, async (_request, reply) => reply.code(200).send(await client.listSchedules()));

  app.get(`${SCHEDULES}/:id`, async (request, reply) => {
    const { id } = parse(idParams, request.params, 'path');
    const s = await client.getSchedule(id);
    if (!s) throw new DurableError('not-found', `no schedule '${id}'`);
    return reply.code(200).send(s);
  });

  app.post(SCHEDULES, async (request, reply) => {
    const { id, ...options } = parse(createBody, bodyOf(request), 'body');
    // Dates arrive as ISO strings: the schedule schema accepts them as well as Dates.
    await client.createSchedule(id, options as unknown as ScheduleOptions);
    return reply.code(201).send((await client.getSchedule(id)) ?? { id });
  });

  app.post(`${SCHEDULES}/:id/pause`, async (request, reply) => {
    await client.pauseSchedule(parse(idParams, request.params, 'path').id);
    return reply.code(200).send({});
  });

  app.post(`${SCHEDULES}/:id/resume`, async (request, reply) => {
    await client.resumeSchedule(parse(idParams, request.params, 'path').id);
    return reply.code(200).send({});
  });

  app.post(`${SCHEDULES}/:id/trigger`, async (request, reply) => {
    return reply.code(200).send(await client.triggerSchedule(parse(idParams, request.params, 'path').id));
  });

  app.delete(`${SCHEDULES}/:id`, async (request, reply) => {
    await client.deleteSchedule(parse(idParams, request.params, 'path').id);
    return reply.code(200).send({});
  });
}
