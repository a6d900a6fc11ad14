// The admin HTTP server (loopback by default): /metrics for Prometheus, /healthz and /readyz for
// probes. Nothing here touches the Check path.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { listenOn, splitAddress } from '../net/listen.js';

/** A Prometheus exposition and its content type. */
export interface MetricsText {
  readonly contentType: string;
  readonly body: string;
}

export interface Readiness {
  readonly ready: boolean;
  /** Serving on a fail mode (a backend is down); ready or not, the body says which and why. */
  readonly degraded?: boolean;
  readonly detail: string;
}

export interface AdminServerOptions {
  /** `host:port`; port 0 picks a free one. */
  readonly address: string;
  /** What /metrics serves: one instance's registry, or a cluster primary's aggregate. A rejection answers 500. */
  readonly metrics: () => Promise<MetricsText>;
  /** Ready for traffic (answers correctly under its fail modes, see readiness.ts; in a cluster, every worker is). Never rejects. */
  readonly ready: () => Promise<Readiness>;
}

/** /metrics for one instance: its own registry. */
export function registryMetrics(registry: Registry): () => Promise<MetricsText> {
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() });
}

export interface AdminServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServerHandle> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  // Probes and scrapes are short; do not let an idle client hold a socket open at shutdown.
  server.keepAliveTimeout = 5_000;
  const port = await listenOn(server, options.address);
  return {
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: AdminServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  switch (path) {
    case '/metrics': {
      const { contentType, body } = await options.metrics();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    case '/healthz':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    case '/readyz': {
      const { ready, detail } = await options.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${detail}\n`);
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

/**
 * The admin address in effect. An explicit override or a configured address (file or env) is
 * used as is; the built-in default follows an ephemeral gRPC port (`:0`, embedded and test
 * instances) to port 0, so several instances in one host never fight over 9192.
 */
export function effectiveAdminAddress(options: {
  readonly configured: string;
  readonly source: string | undefined;
  readonly grpcAddress: string;
  readonly override?: string;
}): string {
  if (options.override) return options.override;
  if (options.source === 'default' && splitAddress(options.grpcAddress).port === 0) {
    return `${options.configured.slice(0, options.configured.lastIndexOf(':'))}:0`;
  }
  return options.configured;
}
