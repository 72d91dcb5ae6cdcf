/**
 * Opening a Server-Sent Events response: the one place that takes a reply over from fastify,
 * writes the headers, keeps the stream alive through proxies, and ties it to the caller and to
 * the server's close.
 * Invariant: every stream is registered in ctx.streams (close() aborts them all) and its abort
 * signal fires when the caller disconnects; `end()` releases everything, once.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { RouteContext } from './context.js';

/** A comment line every so often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

export interface EventStream {
  res: ServerResponse;
  /** Aborted when the caller goes away or the server closes. */
  stop: AbortController;
  /** Writes one event (`data` is sent as JSON unless it is already a string). */
  send(event: { id?: string | number; event?: string; data: unknown }): void;
  /** Stops the keep-alive, unregisters and ends the response. */
  end(): void;
}

export function openEventStream(reply: FastifyReply, ctx: RouteContext, retryMs = 1_000): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const stop = new AbortController();
  ctx.streams.add(stop);
  res.on('close', () => stop.abort());
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  res.write(`retry: ${retryMs}\n\n`);
  return {
    res,
    stop,
    send({ id, event, data }) {
      if (res.writableEnded) return;
      const body = typeof data === 'string' ? data : JSON.stringify(data);
      res.write(`${id === undefined ? '' : `id: ${id}\n`}${event ? `event: ${event}\n` : ''}data: ${body}\n\n`);
    },
    end() {
      clearInterval(heartbeat);
      ctx.streams.delete(stop);
      if (!res.writableEnded) res.end();
    },
  };
}
