/**
 * The system key: what guards every management route (`code` query parameter or
 * `x-functions-key` header, as in Azure Functions).
 *
 * Invariants: the comparison takes the same time whatever the guess (both sides are hashed to
 * equal-length digests, then compared with timingSafeEqual); a request without the right key
 * gets 401 before any handler runs; the key is never echoed in an error.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

export interface SystemKey {
  readonly value: string;
  /** True when the key was generated here (the caller logs it once, so the operator can use it). */
  readonly generated: boolean;
}

/** Option, else DURABLE_NATS_SYSTEM_KEY, else a fresh random key. */
export function resolveSystemKey(option?: string): SystemKey {
  const given = option ?? process.env.DURABLE_NATS_SYSTEM_KEY;
  if (given !== undefined && given.length > 0) return { value: given, generated: false };
  return { value: randomBytes(24).toString('base64url'), generated: true };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of a presented key with the expected one. */
export function keyMatches(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length === 0) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}

function presentedKey(request: FastifyRequest): unknown {
  const header = request.headers['x-functions-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  return (request.query as Record<string, unknown> | undefined)?.code;
}

/** An onRequest hook for a scope of protected routes. */
export function requireSystemKey(key: SystemKey) {
  // Returning the reply from an async hook is how fastify is told the response is already sent.
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (keyMatches(key.value, presentedKey(request))) return undefined;
    return sendError(reply, 401, 'unauthorized', 'a valid system key is required (code query parameter or x-functions-key header)');
  };
}
