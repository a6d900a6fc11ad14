// Starts Debian's nginx on a free port with a generated config in a temp dir: mTLS termination,
// auth_request to modelgate's HTTP mode, proxying allowed requests to a model-server stand-in.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './serve-process.js';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = process.env['NGINX_BIN'] ?? '/usr/sbin/nginx';

export interface NginxOptions {
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** CA that signs client certificates (ssl_verify_client on). */
  readonly clientCaFile: string;
  readonly modelgatePort: number;
  readonly modelServerPort: number;
}

export interface TestNginx {
  readonly port: number;
  readonly dir: string;
  readonly config: string;
  errorLog(): string;
  close(): Promise<void>;
}

export interface ServerBlockOptions {
  readonly listen: string;
  readonly modelgate: string;
  readonly modelServer: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCaFile: string;
}

/**
 * The part of the config docs/http-mode.md shows verbatim (a test renders it with the doc's paths
 * and compares); everything that names a temp path stays outside it.
 */
export function modelgateServerBlock(o: ServerBlockOptions): string {
  return `upstream modelgate {
    server ${o.modelgate};
}
upstream model_server {
    server ${o.modelServer};
}

server {
    listen ${o.listen} ssl;
    ssl_certificate ${o.serverCertFile};
    ssl_certificate_key ${o.serverKeyFile};
    ssl_client_certificate ${o.clientCaFile};
    ssl_verify_client on;
    ssl_verify_depth 2;

    location / {
        auth_request /_modelgate;
        # Identity for the model server, read from modelgate's 200 answer.
        auth_request_set $mg_subject $upstream_http_x_modelgate_subject;
        auth_request_set $mg_roles $upstream_http_x_modelgate_roles;
        auth_request_set $mg_tenant $upstream_http_x_modelgate_tenant;
        auth_request_set $mg_auth_method $upstream_http_x_modelgate_auth_method;
        auth_request_set $mg_decision_id $upstream_http_x_modelgate_decision_id;
        # What a deny needs: auth_request keeps only 401/403 and drops the body.
        auth_request_set $mg_status $upstream_status;
        auth_request_set $mg_body $upstream_http_x_modelgate_deny_body;
        auth_request_set $mg_retry_after $upstream_http_retry_after;
        error_page 401 403 500 = @modelgate_denied;
        # The budget left, for the client (limits.headers: ietf); an empty value adds nothing.
        auth_request_set $mg_ratelimit $upstream_http_ratelimit;
        auth_request_set $mg_ratelimit_policy $upstream_http_ratelimit_policy;
        add_header RateLimit $mg_ratelimit;
        add_header RateLimit-Policy $mg_ratelimit_policy;

        # proxy_set_header replaces every client-sent copy; an empty value sends none.
        proxy_set_header X-Modelgate-Subject $mg_subject;
        proxy_set_header X-Modelgate-Roles $mg_roles;
        proxy_set_header X-Modelgate-Tenant $mg_tenant;
        proxy_set_header X-Modelgate-Auth-Method $mg_auth_method;
        proxy_set_header X-Modelgate-Decision-Id $mg_decision_id;
        # Credentials stop here (auth_request cannot remove headers; the config must).
        proxy_set_header Authorization "";
        proxy_set_header X-Api-Key "";
        proxy_set_header X-SSL-Client-Cert "";
        # The auth subrequest's control headers, as a client may have sent them: not for the model.
        proxy_set_header X-Original-Method "";
        proxy_set_header X-Original-URI "";
        proxy_set_header Host $host;
        proxy_set_header X-Request-Id $request_id;
        proxy_pass http://model_server;
    }

    location = /_modelgate {
        internal;
        proxy_pass http://modelgate/check;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header Host $host;
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Original-URI $request_uri;
        proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
        proxy_set_header X-Request-Id $request_id;
    }

    # nginx turns every auth status other than 2xx/401/403 into 500 and drops the auth body; give
    # the client modelgate's status and body. (On 401 auth_request copies WWW-Authenticate itself.)
    location @modelgate_denied {
        default_type application/json;
        add_header Retry-After $mg_retry_after always;
        add_header RateLimit $mg_ratelimit always;
        add_header RateLimit-Policy $mg_ratelimit_policy always;
        if ($mg_status = 400) { return 400 $mg_body; }
        if ($mg_status = 401) { return 401 $mg_body; }
        if ($mg_status = 403) { return 403 $mg_body; }
        if ($mg_status = 429) { return 429 $mg_body; }
        if ($mg_status = 503) { return 503 $mg_body; }
        return 503 '{"error":"unavailable","reason":"authorizer_unreachable"}';
    }
}
`;
}

function nginxConfig(dir: string, server: string): string {
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;

${server}}
`;
}

export { freePort };

export async function startTestNginx(options: NginxOptions): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const config = nginxConfig(
    dir,
    modelgateServerBlock({
      ...options,
      listen: `127.0.0.1:${port}`,
      modelgate: `127.0.0.1:${options.modelgatePort}`,
      modelServer: `127.0.0.1:${options.modelServerPort}`,
    }),
  );
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, config);
  // -e: the compiled-in error log (/var/log/nginx) is opened before the config is read.
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', file, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitForPort(port, child, () => `${stderr}\n${errorLog()}`);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    dir,
    config,
    errorLog,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, diagnostics: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${diagnostics()}`);
    const open = await new Promise<boolean>((ok) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        ok(true);
      });
      socket.once('error', () => ok(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nginx did not listen on ${port} within 10 s: ${diagnostics()}`);
}
