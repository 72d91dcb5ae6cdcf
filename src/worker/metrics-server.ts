/**
 * A worker's scrape endpoint: a tiny node:http server (no framework) started by
 * `Worker.start({ metricsPort })`.
 *
 *   GET /metrics  Prometheus text format of the worker's registry (queue gauges sampled per scrape)
 *   GET /healthz  200 { ok: true, worker, partitions } while connected to NATS, 503 otherwise
 *
 * Invariant: a scrape never throws into the worker: a failing sampler leaves its gauge stale and
 * the endpoint still answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 0.0.0.0 (Prometheus usually scrapes from another host). */
  host?: string;
  registry: Registry;
  health: () => { ok: boolean; worker: string; partitions: number[] };
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464 (the loopback address when bound to every interface). */
  url: string;
  close(): Promise<void>;
}

/**
 * @example
 * const m = await startMetricsServer({ port: 9464, registry: worker.metrics.registry, health: () => ({ ok: true, worker: 'w1', partitions: [] }) });
 * // curl $m.url/metrics
 * await m.close();
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      const h = o.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
