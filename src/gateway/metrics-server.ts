import { createServer } from 'node:http';
import type { Registry } from 'prom-client';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import { bindServer, type BoundServer } from './http/node.js';

/**
 * The small HTTP listener that serves `/metrics` on its own address
 * (`gateway.metrics.host`/`port`), so metrics are never public with the gateway.
 * It answers GET and HEAD of one path and 404 for anything else.
 */

/** Options of {@link listenMetrics}. */
export interface MetricsListenOptions {
  /** Address to bind. */
  readonly host: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Path of the document, e.g. `/metrics`. */
  readonly path: string;
}

/** A listening metrics server. */
export type ListeningMetrics = BoundServer;

/** Serves `registry` at `options.path` on its own port. */
export function listenMetrics(registry: Registry, options: MetricsListenOptions): Promise<ListeningMetrics> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== options.path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`Not found; metrics are at ${options.path}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    void registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500).end(),
    );
  });
  return bindServer(server, options.host, options.port, 0);
}
