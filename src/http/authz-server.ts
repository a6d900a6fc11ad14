// The HTTP authorization server (Envoy http_service, nginx auth_request): read, decode once, ask
// the same authorizer as the gRPC mode, answer exactly once, then log. Nothing after the decision
// may throw out of a request: each step is wrapped and its failure reported.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import { reportFailure, type Authorizer, type CheckOutcome, type OnInternalError } from '../check/authorizer-port.js';
import { checkInputFromHttp } from './decode.js';
import { denyBody } from '../decision/deny-body.js';
import { DENY_BODY_HEADER, encodeHttpAnswer, type HttpAnswer } from './encode.js';
import { readBoundedBody, type ReadBody } from './read-body.js';
import { listenOn } from '../net/listen.js';

export interface HttpAuthzServerOptions {
  readonly config: Config['server'];
  readonly authorize: Authorizer;
  /** All configured upstream identity header names, read per request so a reload applies. */
  readonly identityHeaders: () => readonly string[];
  /** Failures caught after the decision (building or sending the answer, logging). */
  readonly onError?: OnInternalError;
}

export interface HttpAuthzServerHandle {
  readonly server: Server;
  readonly port: number;
  /** Stop accepting, let in-flight checks finish for up to graceMs, then cut the rest. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startHttpAuthzServer(options: HttpAuthzServerOptions): Promise<HttpAuthzServerHandle> {
  const cfg = options.config.http;
  const errorStatus = options.config.on_error.http_status;
  const onError = options.onError;
  const server = createServer((req, res) => {
    // handle() catches its own failures; this is the last guard against an unhandled rejection.
    handle(req, res).catch((error: unknown) => {
      reportFailure(onError, error, 'send');
      res.destroy();
    });
  });
  // Proxies keep upstream connections open for long; outlive their idle timeout so a reused
  // connection is never one we are closing at that moment.
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The request id a failure answer quotes: the decoded request's once there is one (so it is the
    // id the check ran under), else the proxy's, else a new one. Built once, on the first failure.
    let requestId: string | undefined;
    let failed: HttpAnswer | undefined;
    const failure = () => (failed ??= failureAnswer(errorStatus, requestId || proxyRequestId(req) || randomUUID()));
    let body: ReadBody;
    try {
      body = await readBoundedBody(req, cfg.max_body_bytes);
    } catch {
      // The proxy went away mid-body: nobody is left to answer (send() skips a destroyed response).
      return send(res, failure(), failure);
    }
    let outcome: CheckOutcome;
    try {
      const input = checkInputFromHttp(
        { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, remoteAddress: remote(req), body },
        cfg,
      );
      requestId = input?.requestId;
      outcome = await options.authorize(input);
    } catch (error) {
      // The authorizer turns pipeline failures into denies itself; this is a broken decoder or answer
      // builder, and the proxy must still get a deny rather than a hang.
      reportFailure(onError, error, 'answer');
      return send(res, failure(), failure);
    }
    let answer: HttpAnswer;
    try {
      // The proxy's control headers (method, URI, client certificate) describe the request to
      // modelgate; a client-sent copy must not reach the model server either (Envoy http_service
      // forwards the original request's headers upstream, minus the ones listed for removal).
      answer = encodeHttpAnswer(outcome.answer, [...options.identityHeaders(), cfg.method_header, cfg.uri_header, cfg.client_cert_header]);
    } catch (error) {
      // No decision line for an answer that never left, as in gRPC mode: the failure is reported instead.
      reportFailure(onError, error, 'encode');
      return send(res, failure(), failure);
    }
    send(res, answer, failure);
    try {
      outcome.finish();
    } catch (error) {
      reportFailure(onError, error, 'log');
    }
  }

  /** Exactly one answer: the one given, else the failure deny, else (headers already out) a reset. */
  function send(res: ServerResponse, answer: HttpAnswer, failure: () => HttpAnswer): void {
    try {
      respond(res, answer);
    } catch (error) {
      reportFailure(onError, error, 'send');
      if (res.headersSent) return void res.destroy();
      try {
        respond(res, failure());
      } catch {
        res.destroy();
      }
    }
  }

  const port = await listenOn(server, cfg.address);

  return {
    server,
    port,
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

/**
 * The configured on_error deny for a failure caught here (no answer could be built, encoded or
 * sent): the body from the reason table like every deny, and nginx's copy of it in a header.
 */
function failureAnswer(status: number, requestId: string): HttpAnswer {
  const body = denyBody('internal_error', requestId);
  return { status, headers: [['content-type', 'application/json'], [DENY_BODY_HEADER, body]], body };
}

/** The proxy's x-request-id, as the decoder reads it ('' when absent); Node joins repeats with ', '. */
function proxyRequestId(req: IncomingMessage): string {
  const id = req.headers['x-request-id'];
  return typeof id === 'string' ? id : '';
}

function remote(req: IncomingMessage): string {
  const s = req.socket;
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort ?? 0}` : '';
}
