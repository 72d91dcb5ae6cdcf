/**
 * The web console: its static bundle at `/console/` (with the SPA fallback that makes deep links
 * such as `/console/instances/{id}` reloadable), and the two data routes only the console needs:
 * `GET {webhooks}/streams/instances` (SSE of every instance status change, for the live list),
 * `GET {webhooks}/instances/{id}/history` (the instance's own history events, for the timeline)
 * and `GET {webhooks}/catalog` (entity operations and their input schemas).
 *
 * Invariants: the bundle is public but holds no data (every data route sits in the key-guarded
 * scope, see server.ts); every console page is sent with a Content-Security-Policy that allows
 * only this origin's scripts and styles, so even markup that slipped into the DOM could not run a
 * script; the live stream coalesces changes per instance and flushes them at most every
 * FLUSH_MS, so a burst of 100,000 updates costs the browser a bounded number of events, and the
 * subscription never outlives the response.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { decodeStatusRecord } from '../client/status.js';
import { decodeToken } from '../core/encoding.js';
import { DurableError } from '../core/errors.js';
import type { CoreMessage, Stoppable } from '../store/fabric.js';
import type { CatalogEntry } from '../worker/catalog.js';
import type { RouteContext } from './context.js';
import { openEventStream } from './event-stream.js';
import { WEBHOOK_BASE } from './payloads.js';
import { instanceParams, parse } from './schemas.js';

export const CONSOLE_BASE = '/console';
const FLUSH_MS = 250;

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** dist/console of the package, found from this module's place (src/http or dist/src/http). */
export function consoleBundleDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) {
      const bundle = join(dir, 'dist', 'console');
      return existsSync(join(bundle, 'index.html')) ? bundle : undefined;
    }
    dir = dirname(dir);
  }
  return undefined;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return (
    reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      // The first URL may carry ?code=: never send it to anyone else.
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
  );
}

/** Public routes: the bundle's files, and index.html for every other path under /console/. */
export function registerConsoleAssets(app: FastifyInstance, bundleDir = consoleBundleDir()): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  if (bundleDir) {
    // Read once at start: the bundle is a handful of files, and nothing is read per request.
    for (const name of readdirSync(bundleDir)) {
      const type = TYPES[extname(name)];
      if (type) files.set(name, { body: readFileSync(join(bundleDir, name)), type });
    }
  }
  const index = files.get('index.html');

  const page = async (_request: unknown, reply: FastifyReply) => {
    securityHeaders(reply).header('cache-control', 'no-cache');
    if (!index) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The console bundle is missing: run `npm run build` (it builds dist/console).');
    }
    return reply.code(200).type(index.type).send(index.body);
  };
  app.get(`${CONSOLE_BASE}/`, page); // also /console (the server ignores trailing slashes)
  app.get(`${CONSOLE_BASE}/assets/:file`, async (request, reply) => {
    const f = files.get((request.params as { file: string }).file);
    if (!f || f.type.startsWith('text/html')) return page(request, reply.code(404));
    return securityHeaders(reply).header('cache-control', 'no-cache').type(f.type).send(f.body);
  });
  app.get(`${CONSOLE_BASE}/*`, page);
}

export interface InstanceSummary {
  instanceId: string;
  name: string;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
}

/** Every catalog entry (entities with their operations' input schemas, orchestrations, activities). */
async function readCatalog(ctx: RouteContext): Promise<CatalogEntry[]> {
  const kv = ctx.client.hub.kv.catalog;
  const keys = await kv.keys();
  const out: CatalogEntry[] = [];
  for (const e of await Promise.all(keys.map((k) => kv.get(k).catch(() => null)))) {
    if (!e || e.value.length === 0) continue;
    try {
      out.push(JSON.parse(new TextDecoder().decode(e.value)) as CatalogEntry);
    } catch {
      /* not ours */
    }
  }
  return out.sort((a, b) => (a.kind === b.kind ? (a.name < b.name ? -1 : 1) : a.kind < b.kind ? -1 : 1));
}

/** Key-guarded routes of the console. */
export function registerConsoleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get(`${WEBHOOK_BASE}/catalog`, async () => ({ hub: ctx.hub, entries: await readCatalog(ctx) }));

  // The timeline needs durable-nats' own history events (task, timer and request ids pair each
  // start with its end); the DF-shaped historyEvents of the status route drop some of them.
  app.get(`${WEBHOOK_BASE}/instances/:instanceId/history`, async (request) => {
    const { instanceId } = parse(instanceParams, request.params, 'path');
    const s = await ctx.client.getStatus(instanceId, { showHistory: true });
    if (!s) throw new DurableError('not-found', `no instance '${instanceId}'`);
    return { instanceId, history: s.history ?? [] };
  });

  app.get(`${WEBHOOK_BASE}/streams/instances`, async (_request, reply) => {
    const stream = openEventStream(reply, ctx, 2_000);
    const { res, stop } = stream;
    const pending = new Map<string, InstanceSummary | { instanceId: string; deleted: true }>();
    let seq = 0;
    const flush = () => {
      if (pending.size === 0 || res.writableEnded) return;
      const batch = [...pending.values()];
      pending.clear();
      res.write(`id: ${++seq}\nevent: statuses\ndata: ${JSON.stringify(batch)}\n\n`);
    };
    const onStatus = (m: CoreMessage) => {
      const op = m.headers?.get('KV-Operation');
      const key = m.subject.slice(m.subject.lastIndexOf('.') + 1);
      if (op === 'DEL' || op === 'PURGE' || m.data.length === 0) {
        pending.set(key, { instanceId: decodeToken(key), deleted: true });
        return;
      }
      try {
        const s = decodeStatusRecord(m.data);
        pending.set(key, {
          instanceId: s.instanceId,
          name: s.name,
          runtimeStatus: s.runtimeStatus,
          createdTime: s.createdTime,
          lastUpdatedTime: s.lastUpdatedTime,
        });
      } catch {
        /* not a status record */
      }
    };
    // The flush is the HTTP server's pacing of a browser stream, not engine time: a real interval.
    const flusher = setInterval(flush, FLUSH_MS);
    let sub: Stoppable | undefined;
    try {
      sub = await ctx.client.hub.fabric.subscribe(`$KV.${ctx.client.hub.names.statusBucket}.>`, onStatus);
      res.write('event: ready\ndata: {}\n\n');
      if (!stop.signal.aborted) await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    } finally {
      sub?.stop();
      clearInterval(flusher);
      stream.end();
    }
  });
}
