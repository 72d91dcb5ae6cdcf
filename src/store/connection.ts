/**
 * Connecting to NATS: one place that resolves `servers` (option, NATS_URL, default) and turns
 * connection failures into DurableError('connection').
 * Invariant: a refused or timed-out first connection (nodes of a cluster still starting) is
 * retried until the start-up deadline; an authentication error fails at once.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DurableError } from '../core/errors.js';
import { startupDeadline, withStartupRetry, type StartupRetryOptions } from './transient.js';

export const DEFAULT_SERVERS = '127.0.0.1:4222';

export function resolveServers(servers?: string | string[]): string[] {
  const raw = servers ?? process.env.NATS_URL ?? DEFAULT_SERVERS;
  const list = Array.isArray(raw) ? raw : raw.split(',');
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

export async function connectNats(servers: string | string[] | undefined, name: string, startup: StartupRetryOptions = startupDeadline(undefined)): Promise<NatsConnection> {
  const list = resolveServers(servers);
  try {
    return await withStartupRetry('connect', () => connect({ servers: list, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 10_000 }), {
      ...startup,
      discardLate: (nc) => nc.close().catch(() => undefined),
    });
  } catch (e) {
    // The step's error says how long it tried and the last cause; this adds where.
    throw new DurableError('connection', `cannot connect to NATS at ${list.join(', ')}: ${(e as Error).message}`, {
      cause: (e as Error).cause ?? e,
      details: { step: 'connect', servers: list },
    });
  }
}
