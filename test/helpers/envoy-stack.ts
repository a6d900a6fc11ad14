// One end-to-end stack for the Envoy tests: dev certificates from scripts/dev-certs.sh, a real
// modelgate on a free port, an echo upstream, and Envoy running a shipped config (envoy/edge.yaml or
// envoy/sidecar.yaml) with only addresses, ports and file paths substituted.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { checkClient, type CheckClient } from '../../src/grpc/client.js';
import { startEchoUpstream, type EchoUpstream } from './echo-upstream.js';
import { freePort, readEnvoyConfig, ROOT, startEnvoy, substitute, type Endpoint, type Node, type TestEnvoy } from './envoy.js';
import { startTestGate, type TestGate } from './gate.js';

/** The client certificates scripts/dev-certs.sh writes, by file stem. */
export type DevCert = 'batch-scorer' | 'frontend' | 'outsider' | 'envoy';

/** Runs the shipped dev-certs script into a fresh folder. */
export function devCerts(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-devcerts-'));
  execFileSync('bash', [path.join(ROOT, 'scripts/dev-certs.sh'), dir], { stdio: 'pipe' });
  return dir;
}

/** The sidecar's mesh files, served from the dev certificates (envoy.crt is a trust-domain server cert). */
const MESH_FILES: Readonly<Record<string, string>> = { 'cert.pem': 'envoy.crt', 'key.pem': 'envoy.key', 'ca.pem': 'ca.crt' };

/** Where a shipped config's file path points in a test: certificates from `certs`, logs into `dir`. */
export function testFilePath(certs: string, dir: string) {
  return (original: string): string => {
    if (original === '/dev/stdout') return path.join(dir, 'access.log');
    const base = path.basename(original);
    return path.join(certs, MESH_FILES[base] ?? base);
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface CallOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
}

/** One HTTPS/1.1 request to Envoy's listener, presenting `cert` (or none) and trusting the dev CA. */
export function callEnvoy(port: number, certs: string, cert: DevCert | null, target: string, o: CallOptions = {}): Promise<Reply> {
  const read = (name: string) => readFileSync(path.join(certs, name));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        method: o.method ?? 'GET',
        path: target,
        headers: o.headers,
        ca: read('ca.crt'),
        ...(cert ? { cert: read(`${cert}.crt`), key: read(`${cert}.key`) } : {}),
        agent: false,
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface StackOptions {
  /** The modelgate config (in-process gate on a free loopback port). */
  readonly gateYaml: string;
  readonly gateFiles?: Record<string, string>;
  readonly gateEnv?: NodeJS.ProcessEnv;
  /** Shipped Envoy config, relative to the repo root. */
  readonly envoyFile?: 'envoy/edge.yaml' | 'envoy/sidecar.yaml';
  /**
   * A documented addition applied before substitution (docs' jwt_authn or http_service snippet).
   * Without it the config Envoy runs is the shipped file with addresses, ports and paths replaced.
   */
  readonly transform?: (doc: Node) => void;
  /** Endpoints for clusters a transform added, by cluster name. */
  readonly extraClusters?: Readonly<Record<string, Endpoint>>;
  /**
   * Files a transform's config names (a jwt_authn `local_jwks.filename`), by base name. They are
   * written next to the dev certificates, where every absolute file path of the config is mapped.
   */
  readonly envoyFiles?: Readonly<Record<string, string>>;
  /** Where modelgate's clusters point instead of the in-process gate (a `serve` child process). */
  readonly gatePort?: number;
  /**
   * Where the access-log cluster points: modelgate's audit receiver (its own port). Default: the
   * in-process gate's receiver, else a closed port (no audit: Envoy's stream fails, nothing else does).
   */
  readonly auditPort?: number;
  /** Certificates from an earlier devCerts() (the gate's audit receiver uses them too); the stack leaves them. */
  readonly certs?: string;
}

export interface Stack {
  readonly envoy: TestEnvoy;
  /** Undefined when `gatePort` pointed Envoy at a modelgate the test runs itself. */
  readonly gate: TestGate | undefined;
  readonly upstream: EchoUpstream;
  readonly certs: string;
  /** The listener's port on 127.0.0.1. */
  readonly port: number;
  /** Envoy's JSON file access log, parsed line by line. */
  accessLog(): Array<Record<string, unknown>>;
  /**
   * The first access-log line (at or after `from`, a line count) that `match`es. Envoy writes its
   * file log every 10 s; this asks it to flush (admin POST /reopen_logs) until the line is there.
   */
  accessLogLine(match: (line: Record<string, unknown>) => boolean, from?: number, timeoutMs?: number): Promise<Record<string, unknown>>;
  call(cert: DevCert | null, target: string, o?: CallOptions): Promise<Reply>;
  /**
   * One request and what it left behind. Every earlier exchange waited for its own access-log line,
   * so the next new line is this one's; the decision line is joined on Envoy's x-request-id.
   */
  exchange(cert: DevCert | null, target: string, o?: CallOptions): Promise<Exchange>;
  /** Envoy's counters for the listener's ext_authz filter; `invalid` counts answers validate_mutations refused. */
  extAuthzStats(): Promise<Record<(typeof AUTHZ_STATS)[number], number>>;
  close(): Promise<void>;
}

export interface Exchange {
  readonly reply: Reply;
  /** The access-log line Envoy wrote for this request. */
  readonly access: Record<string, unknown>;
  /** modelgate's decision line for it, if modelgate was asked (and runs in process). */
  readonly decision: Record<string, unknown> | undefined;
}

const AUTHZ_STATS = ['ok', 'denied', 'error', 'invalid'] as const;

const MODELGATE_CLUSTERS = new Set(['modelgate']);
const UPSTREAM_CLUSTERS = new Set(['model_server', 'local_model']);

/** True when the config's `modelgate` cluster (the Check hop) has a TLS transport socket. */
export function checkHopIsTls(doc: Node): boolean {
  return (doc.static_resources.clusters as Node[]).some((c) => MODELGATE_CLUSTERS.has(c.name) && c.transport_socket !== undefined);
}

/**
 * modelgate config `yaml` with the Check port's mTLS as docker-compose serves it: dev-certs.sh's
 * server certificate for "modelgate", and only the proxy CA's client certificates (Envoy's).
 */
export function withCheckTls(yaml: string, certs: string): string {
  const doc = (parseYaml(yaml) ?? {}) as Node;
  doc.server ??= {};
  doc.server.grpc ??= {};
  doc.server.grpc.tls = {
    cert_file: path.join(certs, 'modelgate-server.crt'),
    key_file: path.join(certs, 'modelgate-server.key'),
    client_ca_file: path.join(certs, 'proxy-ca.crt'),
  };
  return stringifyYaml(doc);
}

/** A Check client that connects to an mTLS Check port as Envoy does: envoy-client.crt, server name "modelgate". */
export function envoyLikeCheckClient(port: number, certs: string): CheckClient {
  const read = (name: string) => readFileSync(path.join(certs, name));
  const credentials = grpc.credentials.createSsl(read('ca.crt'), read('envoy-client.key'), read('envoy-client.crt'));
  return checkClient(`127.0.0.1:${port}`, credentials, { 'grpc.ssl_target_name_override': 'modelgate', 'grpc.default_authority': 'modelgate' });
}

/** Starts certs, gate, upstream and Envoy; on a failed start closes whatever it had opened. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const closers: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const certs = options.certs ?? devCerts();
    if (!options.certs) closers.push(() => rmSync(certs, { recursive: true, force: true }));
    for (const [name, content] of Object.entries(options.envoyFiles ?? {})) writeFileSync(path.join(certs, name), content);
    const doc = readEnvoyConfig(options.envoyFile ?? 'envoy/edge.yaml');
    options.transform?.(doc);
    // A shipped config whose Check hop is mTLS (edge.yaml) gets a modelgate that serves it, with the
    // same dev certificates; a test that runs its own modelgate gives it withCheckTls() itself.
    const gateYaml = checkHopIsTls(doc) ? withCheckTls(options.gateYaml, certs) : options.gateYaml;
    const gate = options.gatePort === undefined ? await startTestGate(gateYaml, { files: options.gateFiles, env: options.gateEnv }) : undefined;
    if (gate) closers.push(() => gate.close());
    const gatePort = options.gatePort ?? gate!.gate.grpcPort;
    const auditPort = options.auditPort ?? gate?.gate.auditPort ?? (await freePort());
    const upstream = await startEchoUpstream();
    closers.push(() => upstream.close());
    const adminPort = await freePort();
    const listeners: Record<string, number> = {};
    for (const l of doc.static_resources.listeners as Node[]) listeners[l.name] = await freePort();
    const clusters: Record<string, Endpoint> = { ...options.extraClusters };
    for (const c of doc.static_resources.clusters as Node[]) {
      if (MODELGATE_CLUSTERS.has(c.name)) clusters[c.name] = { address: '127.0.0.1', port: gatePort };
      else if (c.name === 'modelgate_accesslog') clusters[c.name] = { address: '127.0.0.1', port: auditPort };
      else if (UPSTREAM_CLUSTERS.has(c.name)) clusters[c.name] = { address: '127.0.0.1', port: upstream.port };
      else if (c.name === 'envoy_admin') clusters[c.name] = { address: '127.0.0.1', port: adminPort };
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-envoy-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = substitute(doc, { adminPort, listeners, clusters, file: testFilePath(certs, dir) });
    const envoy = await startEnvoy({ config, adminPort, dir });
    closers.push(() => envoy.stop());
    const port = Object.values(listeners)[0]!;
    const accessLogFile = path.join(dir, 'access.log');
    const accessLog = () =>
      existsSync(accessLogFile)
        ? readFileSync(accessLogFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        : [];
    const accessLogLine: Stack['accessLogLine'] = async (match, from = 0, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await adminPost(adminPort, '/reopen_logs');
        const line = accessLog().slice(from).find(match);
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`no matching access-log line after line ${from}:\n${JSON.stringify(accessLog().slice(from))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    return {
      envoy,
      gate,
      upstream,
      certs,
      port,
      accessLog,
      accessLogLine,
      call: (cert, target, o) => callEnvoy(port, certs, cert, target, o),
      async exchange(cert, target, o) {
        const from = accessLog().length;
        const reply = await callEnvoy(port, certs, cert, target, o);
        const access = await accessLogLine(() => true, from);
        const decision = gate?.logs.find((l) => l.msg === 'decision' && l.request_id === access.request_id);
        return { reply, access, decision };
      },
      async extAuthzStats() {
        // Envoy names them http.<HCM stat_prefix>.ext_authz.<filter stat_prefix>.<counter>.
        const hcm = (doc.static_resources.listeners as Node[])[0]!.filter_chains[0].filters[0].typed_config;
        const filter = (hcm.http_filters as Node[]).find((f) => f.name === 'envoy.filters.http.ext_authz')!.typed_config;
        const prefix = `http.${hcm.stat_prefix}.ext_authz.${filter.stat_prefix}`;
        const values = await Promise.all(AUTHZ_STATS.map((s) => envoy.stat(`${prefix}.${s}`)));
        return Object.fromEntries(AUTHZ_STATS.map((s, i) => [s, values[i]!])) as Record<(typeof AUTHZ_STATS)[number], number>;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A POST on Envoy's admin API (reopen_logs also flushes the file access logs). */
function adminPost(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method: 'POST', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('admin request timed out')));
    req.on('error', reject);
    req.end();
  });
}
