/**
 * What every route module is given: the client, the system key, the hub, and the helpers that
 * several route modules share (URIs of the caller's origin, waiting for an instance to finish).
 *
 * Invariant: URIs are built from the origin the caller used (its Host header), as DF does, so
 * the links work behind whatever name the caller reached this server by.
 */
import type { FastifyRequest } from 'fastify';
import type { DurableClient } from '../client/client.js';
import { isTerminal, type OrchestrationStatus } from '../client/status.js';
import { DurableError } from '../core/errors.js';
import type { SystemKey } from './auth.js';
import type { UriContext } from './payloads.js';

export interface RouteContext {
  client: DurableClient;
  key: SystemKey;
  hub: string;
  /** SSE streams in progress register here so close() can end them. */
  streams: Set<AbortController>;
}

export function uriContext(ctx: RouteContext, request: FastifyRequest): UriContext {
  return { origin: `${request.protocol}://${request.host}`, hub: ctx.hub, key: ctx.key.value };
}

/** The body of a request: undefined when it was empty (the content-type parser maps '' to it). */
export const bodyOf = (request: FastifyRequest): unknown => request.body ?? undefined;

/** Raw request bodies are JSON whatever the content type (DF clients and `curl -d` alike). */
export function parseJsonBody(text: string): unknown {
  if (text.trim().length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new DurableError('validation', 'request body is not valid JSON');
  }
}

/**
 * Waits up to `timeoutMs` for the instance to be terminal (pushed by a KV watch), then returns
 * its status, terminal or not; undefined if there is no such instance. Waiting is never an
 * error: a timeout just answers with the current status (DF's long-poll behaviour).
 */
export async function waitForTerminal(
  ctx: RouteContext,
  instanceId: string,
  timeoutMs: number,
  read: () => Promise<OrchestrationStatus | undefined>,
  request?: ClosableRequest,
): Promise<OrchestrationStatus | undefined> {
  const first = await read();
  if (!first || isTerminal(first.runtimeStatus) || timeoutMs <= 0) return first;
  // Stop watching at once when the HTTP client goes away: the socket's 'close' (a request's own
  // 'close' also fires once its body has been read). The listener is removed after the wait, so
  // long polls on a keep-alive connection do not pile listeners up.
  const controller = new AbortController();
  const socket = request?.raw.socket;
  const onClose = () => controller.abort();
  socket?.once('close', onClose);
  try {
    await ctx.client.waitForCompletion(instanceId, { timeoutMs, signal: controller.signal });
  } catch (e) {
    if (!DurableError.is(e, 'timeout') && !controller.signal.aborted) throw e;
  } finally {
    socket?.off('close', onClose);
  }
  return read();
}

/** What waitForTerminal needs of a request: its socket, to notice a client that went away. */
export interface ClosableRequest {
  raw: { socket?: { once(event: 'close', fn: () => void): unknown; off(event: 'close', fn: () => void): unknown } | null };
}
