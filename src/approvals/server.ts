// The approvers' listener (approvals.listen, default 127.0.0.1:9195): its own port, so the metrics
// port stays read-only and unauthenticated and the Check port never takes approver traffic.
//
//   GET  /v1/approvals                 pending requests the caller may decide
//   POST /v1/approvals/{id}/approve    {"for": "1h"} (optional; approvals.default_grant)
//   POST /v1/approvals/{id}/deny
//   GET  /v1/grants                    live grants the caller may revoke (or holds)
//   POST /v1/grants/{id}/revoke
//
// Every answer is JSON; bad input is a 4xx with a reason, a broken store a 503, never a crash.

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { listenOn } from '../net/listen.js';
import type { ActionResult, ApprovalActions } from './actions.js';
import { authenticateApprover, type ApproverSources } from './approver-auth.js';
import type { ApprovalsConfig } from './config.js';

export interface ApprovalsServerOptions {
  readonly config: ApprovalsConfig;
  /** Overrides config.listen (tests bind port 0). */
  readonly address?: string;
  /** Where tls files are resolved from (the config file's directory). */
  readonly baseDir: string;
  readonly actions: ApprovalActions;
  readonly sources: ApproverSources;
  readonly logger: Logger;
}

export interface ApprovalsServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

/** Requests carry at most `{"for": "…"}`; anything bigger is not an approver's call. */
const MAX_BODY_BYTES = 4096;

export async function startApprovalsServer(options: ApprovalsServerOptions): Promise<ApprovalsServerHandle> {
  const { config, baseDir } = options;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, options).then(
      (result) => send(res, result),
      (error: unknown) => {
        // A store failure or a bug: logged here with its text, never sent to the caller.
        options.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'approvals endpoint failed');
        send(res, { status: 503, body: { error: 'unavailable', message: 'approvals store unavailable' } });
      },
    );
  };
  const tls = config.tls;
  const server: Server = tls
    ? createHttpsServer(
        {
          cert: readFileSync(resolvePath(baseDir, tls.cert_file)),
          key: readFileSync(resolvePath(baseDir, tls.key_file)),
          ...(tls.client_ca_file
            ? // Asked for, verified against the CA, and judged per request: a JWT approver needs no certificate.
              { ca: readFileSync(resolvePath(baseDir, tls.client_ca_file)), requestCert: true, rejectUnauthorized: false }
            : {}),
        },
        onRequest,
      )
    : createHttpServer(onRequest);
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  const port = await listenOn(server, options.address ?? config.listen);
  return {
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

const refused = (status: number, error: string, message: string): ActionResult => ({ status, body: { error, message } });

async function handle(req: IncomingMessage, options: ApprovalsServerOptions): Promise<ActionResult> {
  const path = (req.url ?? '/').split('?')[0]!;
  const route = /^\/v1\/(approvals|grants)(?:\/([^/]+)\/(approve|deny|revoke))?$/.exec(path);
  if (!route) return refused(404, 'not_found', 'unknown path');
  const [, collection, id, verb] = route;
  const method = req.method ?? '';
  const wanted = verb === undefined ? 'GET' : 'POST';
  if (method !== wanted) return refused(405, 'method_not_allowed', `use ${wanted}`);
  if (verb !== undefined && (verb === 'revoke') !== (collection === 'grants')) return refused(404, 'not_found', 'unknown path');
  const body = verb === undefined ? {} : await readJson(req);
  if (body === undefined) return refused(400, 'bad_request', `expected a JSON object of at most ${MAX_BODY_BYTES} bytes`);

  const auth = await authenticateApprover(req, options.sources);
  if (!auth.ok) {
    options.logger.warn({ reason: auth.reason, detail: auth.detail, path }, 'approvals endpoint: caller not authenticated');
    return refused(401, 'unauthenticated', auth.reason);
  }
  const caller = auth.identity;
  const { actions } = options;
  const result =
    verb === undefined
      ? collection === 'approvals'
        ? await actions.list(caller)
        : await actions.grants(caller)
      : verb === 'approve'
        ? await actions.approve(caller, decodeId(id!), body.for)
        : verb === 'deny'
          ? await actions.deny(caller, decodeId(id!))
          : await actions.revoke(caller, decodeId(id!));
  if (result.status >= 400) options.logger.warn({ caller: caller.subject, path, reason: result.body.error }, 'approvals endpoint refused a call');
  return result;
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // malformed escapes: the id check refuses it
  }
}

/** The body as a JSON object ({} when empty); undefined when too big or not an object. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, result: ActionResult): void {
  if (res.headersSent) return void res.end();
  res.writeHead(result.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(result.body)}\n`);
}
