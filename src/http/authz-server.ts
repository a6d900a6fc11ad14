// The HTTP authorization server (Envoy http_service, nginx auth_request): read, decode once, ask
// the same authorizer as the gRPC mode, answer exactly once, then log.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Authorizer } from '../pipeline/authorizer.js';
import { checkInputFromHttp } from './decode.js';
import { encodeHttpAnswer, type HttpAnswer } from './encode.js';
import { readBoundedBody } from './read-body.js';

export interface HttpAuthzServerOptions {
  readonly config: Config['server'];
  readonly authorize: Authorizer;
  /** All configured upstream identity header names, read per request so a reload applies. */
  readonly identityHeaders: () => readonly string[];
}

export interface HttpAuthzServerHandle {
  readonly server: Server;
  readonly port: number;
  /** Stop accepting, let in-flight checks finish for up to graceMs, then cut the rest. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startHttpAuthzServer(options: HttpAuthzServerOptions): Promise<HttpAuthzServerHandle> {
  const cfg = options.config.http;
  const failure: HttpAnswer = {
    status: options.config.on_error.http_status,
    headers: [['content-type', 'application/json']],
    body: JSON.stringify({ error: 'unavailable', reason: 'internal_error', request_id: '' }),
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  // Proxies keep upstream connections open for long; outlive their idle timeout so a reused
  // connection is never one we are closing at that moment.
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let answer: HttpAnswer;
    let finish: (() => void) | undefined;
    try {
      const body = await readBoundedBody(req, cfg.max_body_bytes);
      const input = checkInputFromHttp(
        { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, remoteAddress: remote(req), body },
        cfg,
      );
      const outcome = await options.authorize(input);
      answer = encodeHttpAnswer(outcome.answer, options.identityHeaders());
      finish = outcome.finish;
    } catch {
      // The authorizer turns pipeline failures into denies itself; this is a broken socket or
      // answer builder, and the proxy must still get a deny rather than a hang.
      answer = failure;
    }
    try {
      respond(res, answer);
    } catch {
      respond(res, failure);
    }
    finish?.();
  }

  await new Promise<void>((ok, fail) => {
    const { host, port } = splitAddress(cfg.address);
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });

  return {
    server,
    port: (server.address() as AddressInfo).port,
    shutdown: (graceMs) =>
      new Promise<void>((done) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          done();
        });
        server.closeIdleConnections();
      }),
  };
}

function respond(res: ServerResponse, answer: HttpAnswer): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(answer.body, 'utf8');
  const headers: Array<[string, string]> = answer.headers.map(([k, v]) => [k, v]);
  headers.push(['content-length', String(body.length)]);
  res.writeHead(answer.status, headers.flat());
  res.end(body);
}

function remote(req: IncomingMessage): string {
  const s = req.socket;
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort ?? 0}` : '';
}

/** `host:port` or `[v6]:port` as the schema accepts it. */
function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}
