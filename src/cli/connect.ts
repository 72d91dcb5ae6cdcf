/**
 * The global options every command takes (`--server`, `--hub`, `--json`) and the one way a
 * command gets a client. Invariant: a client opened for a command is closed when the command
 * ends, whatever happened, so the process exits without waiting on NATS.
 */
import { Option, type Command } from 'commander';
import { DurableClient } from '../client/client.js';
import { DEFAULT_HUB } from '../core/topology.js';

export interface GlobalOptions {
  server?: string;
  servers?: string;
  hub: string;
  json?: boolean;
}

/** Adds the global options to the program (commander shows them on every command's help). */
export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(new Option('-s, --server <urls>', 'NATS server URL(s), comma-separated').env('NATS_URL'))
    .addOption(new Option('--servers <urls>', 'same as --server').hideHelp())
    .addOption(new Option('--hub <hub>', 'hub (namespace of streams and buckets)').env('DURABLE_NATS_HUB').default(DEFAULT_HUB));
}

export function globalsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

const ONE_SHOT_STARTUP_TIMEOUT_MS = 3_000;

/** The servers option as the library takes it (undefined: NATS_URL or the default). */
export function serversOf(g: GlobalOptions): string | undefined {
  return g.servers ?? g.server;
}

export async function withClient<T>(command: Command, fn: (client: DurableClient, g: GlobalOptions) => Promise<T>): Promise<T> {
  const g = globalsOf(command);
  const servers = serversOf(g);
  // A one-shot command answers promptly: it waits out a short election, not the 30 s a worker
  // or server waits (DURABLE_NATS_STARTUP_TIMEOUT_MS still decides when set).
  const startupTimeoutMs = process.env.DURABLE_NATS_STARTUP_TIMEOUT_MS ? undefined : ONE_SHOT_STARTUP_TIMEOUT_MS;
  const client = await DurableClient.connect({ ...(servers ? { servers } : {}), hub: g.hub, ...(startupTimeoutMs ? { startupTimeoutMs } : {}) });
  try {
    return await fn(client, g);
  } finally {
    await client.close();
  }
}
