/**
 * A hub on NATS: the connection, the JetStream readiness probe, a NatsFabric on that connection,
 * and the hub opened on it by openHubOn (src/store/hub.ts). Loaded only on the NATS path (a
 * dynamic import in Worker.start and DurableClient.connect), so that the engine's static import
 * graph holds no NATS client: the test kit runs the same worker and client with no network.
 *
 * Invariant: a failed open closes what it opened (the connection), and every step is bounded by
 * the start-up deadline, retrying only what a forming or electing cluster says (transient.ts).
 */
import { jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DurableError } from '../core/errors.js';
import { connectNats } from './connection.js';
import { type Hub, type HubOptions, openHubOn } from './hub.js';
import { NatsFabric } from './nats-fabric.js';
import { startupDeadline, withStartupRetry } from './transient.js';

/** Per-attempt timeout of the start-up probe of JetStream (retried until the start-up deadline). */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Opens the hub on an open connection; its NatsFabric (reply subscriptions) is closed by
 * `hub.fabric.close()`, the connection stays the caller's.
 * @example const hub = await openHub(nc, { hub: 'demo' });
 */
export async function openHub(nc: NatsConnection, options: HubOptions): Promise<Hub> {
  const startup = options.startup ?? startupDeadline(undefined);
  // Readiness probe: account info, with a short timeout. While a cluster elects its meta leader
  // JetStream requests go unanswered (or "no responders"), and one 10 s attempt would spend a
  // third of the default start-up budget waiting for an answer that the next attempt gets.
  await withStartupRetry('JetStream account info', () => jetstreamManager(nc, { timeout: PROBE_TIMEOUT_MS }), startup);
  // The start-up's logger (the worker's) hears of follows that replace their consumer.
  const fabric = await withStartupRetry('fabric', () => NatsFabric.on(nc, { replicas: options.replicas ?? 1, ...(startup.logger ? { logger: startup.logger } : {}) }), startup);
  try {
    return await openHubOn(fabric, { ...options, startup });
  } catch (e) {
    await fabric.close();
    throw e;
  }
}

/** A hub on its own connection; `close()` closes the fabric and drains the connection. */
export interface NatsHub {
  hub: Hub;
  nc: NatsConnection;
  close(): Promise<void>;
  /** Told of the connection's losses and recoveries (logs; health follows hub.fabric.isConnected()). */
  onConnectionChange(listener: (s: { type: string; server?: string }) => void): void;
}

/** Connects to `servers` (default NATS_URL or 127.0.0.1:4222) and opens the hub there. */
export async function connectHub(servers: string | string[] | undefined, connectionName: string, options: HubOptions): Promise<NatsHub> {
  const startup = options.startup ?? startupDeadline(undefined);
  const nc = await connectNats(servers, connectionName, startup);
  try {
    const hub = await openHub(nc, { ...options, startup });
    return {
      hub,
      nc,
      close: async () => {
        await hub.fabric.close();
        await nc.drain().catch(() => undefined);
      },
      onConnectionChange: (listener) => {
        void (async () => {
          for await (const s of nc.status()) if (s.type === 'disconnect' || s.type === 'reconnect') listener({ type: s.type, server: s.server });
        })().catch(() => undefined);
      },
    };
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw e;
  }
}

/** The NATS handles under a hub opened on NATS (tests, operations tooling); `validation` error otherwise. */
export function natsOf(hub: Hub): { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager } {
  const f = hub.fabric;
  if (!(f instanceof NatsFabric)) throw new DurableError('validation', `hub '${hub.names.hub}' is not on NATS`);
  return { nc: f.nc, js: f.js, jsm: f.jsm };
}
