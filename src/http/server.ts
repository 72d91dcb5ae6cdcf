/**
 * createHttpServer: Durable Functions' HTTP management API (and a few extras) over a
 * DurableClient, served by fastify.
 *
 * Invariants: every management route sits in one scope whose onRequest hook demands the system
 * key (no route can forget it); request bodies are JSON whatever their content type, and an
 * empty body is "no input", not an error (DF's client posts empty JSON bodies); request URLs are
 * not logged (they carry the key); close() ends open event streams, stops listening, and closes
 * the client only if it opened it.
 */
import fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { pino, type Logger } from 'pino';
import { DurableClient } from '../client/client.js';
import { DEFAULT_HUB } from '../core/topology.js';
import { requireSystemKey, resolveSystemKey } from './auth.js';
import { parseJsonBody, type RouteContext } from './context.js';
import { installErrorHandlers } from './errors.js';
import { installHttpTracing } from './tracing.js';
import { registerEntityRoutes } from './routes-entities.js';
import { registerEntityHistoryRoutes } from './routes-entity-history.js';
import { registerScheduleRoutes } from './routes-schedules.js';
import { registerInstanceRoutes } from './routes-instances.js';
import { registerConsoleAssets, registerConsoleRoutes } from './routes-console.js';
import { registerPublicRoutes } from './routes-public.js';
import { registerStartRoutes } from './routes-start.js';
import { registerWorkerRoutes } from './routes-workers.js';
import { registerSseRoute } from './sse.js';

export interface HttpServerOptions {
  /** NATS URL(s); default NATS_URL or 127.0.0.1:4222. Ignored when `client` is given. */
  servers?: string | string[];
  /** Default DURABLE_NATS_HUB or 'durable'. Ignored when `client` is given. */
  hub?: string;
  /** Default DURABLE_NATS_SYSTEM_KEY, else a random key (logged once at start). */
  systemKey?: string;
  /** Default PORT or 7071 (as Azure Functions); 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Use this client instead of connecting one (it is then not closed by close()). */
  client?: DurableClient;
  logger?: Logger;
  /** Bound of the client's start-up (see DurableClientOptions.startupTimeoutMs). Ignored when `client` is given. */
  startupTimeoutMs?: number;
}

export interface HttpServer {
  /** e.g. 'http://127.0.0.1:7071' */
  readonly url: string;
  /** The system key in force (the one given, or the generated one). */
  readonly systemKey: string;
  close(): Promise<void>;
}

/** Largest request body accepted; the client rejects (400) anything over NATS' max_payload. */
const BODY_LIMIT = 16 * 1024 * 1024;

/**
 * @example
 * const http = await createHttpServer({ servers: 'nats://127.0.0.1:4222', hub: 'demo', port: 7071 });
 * // curl -X POST "$URL/api/orchestrators/helloSequence?code=$KEY"
 * await http.close();
 */
export async function createHttpServer(options: HttpServerOptions = {}): Promise<HttpServer> {
  const logger = options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const key = resolveSystemKey(options.systemKey);
  const ownsClient = options.client === undefined;
  const client =
    options.client ??
    (await DurableClient.connect({
      ...(options.servers !== undefined ? { servers: options.servers } : {}),
      hub: options.hub ?? process.env.DURABLE_NATS_HUB ?? DEFAULT_HUB,
      logger,
      ...(options.startupTimeoutMs !== undefined ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
    }));
  const ctx: RouteContext = { client, key, hub: client.hub.names.hub, streams: new Set() };

  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
  });
  try {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    installErrorHandlers(app);
    installHttpTracing(app, ctx.hub);
    app.addHook('preClose', async () => {
      for (const s of ctx.streams) s.abort();
    });

    registerPublicRoutes(app, ctx);
    registerConsoleAssets(app); // the bundle only: its data comes from the guarded scope below
    await app.register(async (scope) => {
      scope.addHook('onRequest', requireSystemKey(key));
      registerStartRoutes(scope, ctx);
      registerInstanceRoutes(scope, ctx);
      registerSseRoute(scope, ctx);
      registerEntityRoutes(scope, ctx);
      registerEntityHistoryRoutes(scope, ctx);
      registerScheduleRoutes(scope, ctx);
      registerConsoleRoutes(scope, ctx);
      registerWorkerRoutes(scope, ctx);
    });

    const port = options.port ?? (process.env.PORT ? Number(process.env.PORT) : 7071);
    const host = options.host ?? '127.0.0.1';
    await app.listen({ port, host });
    const address = app.server.address();
    const boundPort = typeof address === 'object' && address ? address.port : port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    if (key.generated) logger.warn({ systemKey: key.value }, 'generated a system key (set DURABLE_NATS_SYSTEM_KEY to choose one)');
    logger.info({ url, console: `${url}/console/`, hub: ctx.hub }, 'durable-nats HTTP API listening');

    return {
      url,
      systemKey: key.value,
      async close() {
        await app.close();
        if (ownsClient) await client.close();
      },
    };
  } catch (e) {
    await app.close().catch(() => undefined);
    if (ownsClient) await client.close().catch(() => undefined);
    throw e;
  }
}
