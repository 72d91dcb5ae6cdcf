/**
 * Long-running commands: `serve` (the HTTP API), `worker` (hosts definitions), `dev` (NATS if
 * needed + worker with the examples + HTTP API, for a laptop).
 * Invariant: on SIGINT/SIGTERM everything started here stops in reverse order (HTTP first, so
 * no request reaches a stopped worker; the worker drains; the NATS server it started last).
 */
import type { Command } from 'commander';
import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';
import { DurableError } from '../core/errors.js';
import { createHttpServer } from '../http/server.js';
import { DEFAULT_HUB } from '../core/topology.js';
import { DEFAULT_SERVERS } from '../store/connection.js';
import { Worker } from '../worker/worker.js';
import { globalsOf, serversOf, type GlobalOptions } from './connect.js';
import { loadExamples, loadModule, type Definitions } from './definitions.js';
import { note } from './io.js';
import { ensureNats } from './nats-dev.js';

interface StartupOptions {
  startupTimeout?: string;
}

interface ServeOptions extends StartupOptions {
  systemKey?: string;
  port?: string;
  host?: string;
}

/**
 * Resolves on the first SIGINT/SIGTERM; a second one exits at once. Call it before printing the
 * ready line: a supervisor that reads the line may signal before the next statement runs (seen
 * under load: the process was preempted between the write and the registration, and died).
 */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const on = (s: NodeJS.Signals) => {
      if (received) process.exit(130);
      received = true;
      note(`${s}: stopping (a second signal exits at once)`);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function portOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new DurableError('validation', '--port must be an integer in 0..65535');
  return n;
}

/** `--startup-timeout` as milliseconds; undefined leaves the library's default (env, else 30 s). */
function startupTimeoutOf(o: StartupOptions): { startupTimeoutMs?: number } {
  if (o.startupTimeout === undefined) return {};
  const n = Number(o.startupTimeout);
  if (!Number.isFinite(n) || n <= 0) throw new DurableError('validation', '--startup-timeout must be a positive number of milliseconds');
  return { startupTimeoutMs: n };
}

function startupOption(cmd: Command): Command {
  return cmd.option('--startup-timeout <ms>', 'keep retrying a NATS cluster that is still starting or electing for this long (env DURABLE_NATS_STARTUP_TIMEOUT_MS; default 30000)');
}

const logger = (): Logger => pino({ level: process.env.LOG_LEVEL ?? 'info' });

/**
 * `dev` logs for a person at a terminal: one readable line per event on stderr (pino-pretty, in
 * process and synchronous, so nothing is lost at exit); routine events are at debug
 * (LOG_LEVEL=debug shows them). `serve` and `worker` keep JSON lines for log collectors.
 */
const devLogger = (): Logger =>
  pino(
    { level: process.env.LOG_LEVEL ?? 'info' },
    PinoPretty({
      colorize: process.stderr.isTTY === true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      destination: 2,
      sync: true,
    }),
  );

/** What `dev` prints once everything is up: where things are, and three things to try. */
export function devBanner(o: { hub: string; natsUrl: string; httpUrl: string; key: string; defs: string }): string {
  const code = encodeURIComponent(o.key);
  const flags = `${o.natsUrl.replace(/^nats:\/\//, '') === DEFAULT_SERVERS ? '' : ` --server ${o.natsUrl}`}${o.hub === DEFAULT_HUB ? '' : ` --hub ${o.hub}`}`;
  return [
    '',
    'durable-nats dev is running',
    `  hub ${o.hub} on ${o.natsUrl}`,
    `  hosting ${o.defs}`,
    `  console on ${o.httpUrl}/console/?code=${code}`,
    `  HTTP API on ${o.httpUrl}, system key ${o.key}`,
    '',
    'Try next:',
    `  npx durable-nats${flags} start helloSequence --wait`,
    `  curl -s -X POST "${o.httpUrl}/api/orchestrators/helloSequence?code=${code}"`,
    `  open the console: ${o.httpUrl}/console/?code=${code}`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

function serveOptions(cmd: Command): Command {
  return startupOption(cmd)
    .option('--system-key <key>', 'the system key (env DURABLE_NATS_SYSTEM_KEY; default: generated and logged)')
    .option('--port <port>', 'HTTP port (env PORT; default 7071)')
    .option('--host <host>', 'HTTP host (default 127.0.0.1)');
}

async function startHttp(g: GlobalOptions, o: ServeOptions, servers: string | undefined, log: Logger) {
  const port = portOf(o.port);
  return createHttpServer({
    ...(servers ? { servers } : {}),
    hub: g.hub,
    logger: log,
    ...(o.systemKey ? { systemKey: o.systemKey } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(o.host ? { host: o.host } : {}),
    ...startupTimeoutOf(o),
  });
}

async function startWorker(g: GlobalOptions, o: StartupOptions, servers: string | undefined, defs: Definitions, log: Logger): Promise<Worker> {
  return Worker.start({ ...(servers ? { servers } : {}), hub: g.hub, logger: log, ...defs, ...startupTimeoutOf(o) });
}

function describeDefs(d: Definitions): string {
  const names = (xs: Array<{ name: string }>) => (xs.length ? xs.map((x) => x.name).join(', ') : '-');
  return `entities: ${names(d.entities)}; orchestrations: ${names(d.orchestrations)}; activities: ${names(d.activities)}`;
}

export function registerRunCommands(program: Command): void {
  serveOptions(program.command('serve').description("serve Durable Functions' HTTP API for the hub")).action(async (o: ServeOptions, cmd: Command) => {
    const g = globalsOf(cmd);
    const http = await startHttp(g, o, serversOf(g), logger());
    const signalled = untilSignal(); // before the ready line: whoever reads it may signal at once
    note(`HTTP API on ${http.url} (hub ${g.hub}); console at ${http.url}/console/`);
    await signalled;
    await http.close();
  });

  startupOption(program.command('worker').description('run a worker hosting the examples, or the definitions of --module'))
    .option('--module <path>', 'a module exporting entities, orchestrations and activities (arrays or single definitions)')
    .action(async (o: StartupOptions & { module?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const defs = o.module ? await loadModule(o.module) : await loadExamples();
      const worker = await startWorker(g, o, serversOf(g), defs, logger());
      const signalled = untilSignal(); // before the ready line: whoever reads it may signal at once
      note(`worker ${worker.id} on hub ${g.hub} (${describeDefs(defs)})`);
      await signalled;
      await worker.stop();
    });

  serveOptions(program.command('dev').description('local development: NATS (started if none answers), a worker with the examples, the HTTP API'))
    .option('--module <path>', 'host this module instead of the examples')
    .action(async (o: ServeOptions & { module?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const log = devLogger();
      const url = (serversOf(g) ?? DEFAULT_SERVERS).split(',')[0]!.trim();
      const nats = await ensureNats(url, note);
      try {
        const defs = o.module ? await loadModule(o.module) : await loadExamples();
        const worker = await startWorker(g, o, nats.url, defs, log);
        try {
          const http = await startHttp(g, o, nats.url, log);
          const signalled = untilSignal(); // before the ready lines: whoever reads them may signal at once
          note(devBanner({ hub: g.hub, natsUrl: nats.url, httpUrl: http.url, key: http.systemKey, defs: describeDefs(defs) }));
          await signalled;
          await http.close();
        } finally {
          await worker.stop();
        }
      } finally {
        await nats.stop();
      }
    });
}
