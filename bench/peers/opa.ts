// OPA-Envoy (opa-envoy-plugin), the peer modelgate is compared with in `npm run bench:e2e`: built
// once from the Go module proxy at a pinned version into bench/peers/.bin (git-ignored), then run
// with bench/peers/modelgate.rego and the run's JWKS. Part of the benchmark only: never CI, never a test.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet, startChild, type Child } from '../child.js';

export const OPA_ENVOY_MODULE = 'github.com/open-policy-agent/opa-envoy-plugin';
export const OPA_ENVOY_VERSION = 'v1.13.0-envoy';
/**
 * The module zip's hash (go.sum's h1:), checked after download: this proxy answers 404 for the
 * module on sum.golang.org, so the checksum database cannot vouch for it; the pin does instead.
 * Its dependencies are still checked against the module's own go.sum by `go build`.
 */
const OPA_ENVOY_SUM = 'h1:pcOClXNxqfx9+zOdVyy+Pqr6G/QJI/LRRthFj97WOUk=';
const PEERS = import.meta.dirname;
export const PEERS_BIN = join(PEERS, '.bin');

/** Builds OPA-Envoy unless the pinned binary is already there; returns its path. */
export function buildOpaEnvoy(log: (line: string) => void): string {
  const bin = join(PEERS_BIN, `opa-envoy-plugin-${OPA_ENVOY_VERSION}`);
  if (existsSync(bin)) return bin;
  mkdirSync(PEERS_BIN, { recursive: true });
  // Polite on a shared machine: one compile job at a time, at lower priority. The measurement
  // itself runs everything at the same priority.
  const env = { ...process.env, GOFLAGS: '-p=1', GOBIN: PEERS_BIN };
  const go = (args: string[], cwd?: string) => execFileSync('nice', ['-n', '10', 'go', ...args], { env, cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  log(`building OPA-Envoy ${OPA_ENVOY_VERSION} with Go into ${PEERS_BIN} (first run only; a few minutes)`);
  try {
    go(['install', `${OPA_ENVOY_MODULE}/cmd/opa-envoy-plugin@${OPA_ENVOY_VERSION}`]);
    renameSync(join(PEERS_BIN, 'opa-envoy-plugin'), bin);
    return bin;
  } catch (error) {
    log(`  go install refused the module (${firstLine(error)}); building from the module cache instead`);
  }
  const info = JSON.parse(
    execFileSync('go', ['mod', 'download', '-json', `${OPA_ENVOY_MODULE}@${OPA_ENVOY_VERSION}`], {
      env: { ...env, GONOSUMDB: OPA_ENVOY_MODULE },
      cwd: PEERS,
      encoding: 'utf8',
    }),
  ) as { Dir: string; Sum: string };
  if (info.Sum !== OPA_ENVOY_SUM) throw new Error(`OPA-Envoy ${OPA_ENVOY_VERSION}: module hash ${info.Sum}, pinned ${OPA_ENVOY_SUM}`);
  go(['build', '-trimpath', '-o', bin, './cmd/opa-envoy-plugin'], info.Dir);
  return bin;
}

function firstLine(error: unknown): string {
  const e = error as { stderr?: string; message: string };
  return (e.stderr || e.message).trim().split('\n').pop() ?? '';
}

/** `opa-envoy-plugin version`'s first lines, e.g. "Version: 1.13.0 / Go Version: go1.26". */
export function opaEnvoyVersion(bin: string): string {
  const out = execFileSync(bin, ['version'], { encoding: 'utf8' });
  const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(out)?.[1]?.trim();
  return `opa-envoy-plugin ${OPA_ENVOY_VERSION} (OPA ${field('Version') ?? '?'}, ${field('Go Version') ?? '?'})`;
}

export interface OpaEnvoyOptions {
  readonly bin: string;
  /** Scratch directory for the config and data files. */
  readonly dir: string;
  /** The JWKS (JSON text) the run's tokens are signed for. */
  readonly jwks: string;
  readonly grpcPort: number;
  readonly httpPort: number;
}

/** Runs OPA-Envoy with the bench policy; resolves once its plugins report healthy. */
export function startOpaEnvoy(o: OpaEnvoyOptions): Promise<Child> {
  const data = join(o.dir, 'opa-data.json');
  writeFileSync(data, JSON.stringify({ bench: { jwks: o.jwks } }));
  const config = join(o.dir, 'opa-config.yaml');
  writeFileSync(
    config,
    [
      'plugins:',
      '  envoy_ext_authz_grpc:',
      `    addr: 127.0.0.1:${o.grpcPort}`,
      '    path: modelgate/authz/allow',
      // Decision logs off, as modelgate's rows write theirs to /dev/null but still build them:
      // OPA's console logger would write to a pipe here, which is not what we measure.
      'decision_logs:',
      '  console: false',
      // Off by default in OPA: the verified-token cache, so OPA verifies each token once like modelgate.
      'caches:',
      '  inter_query_builtin_value_cache:',
      '    named:',
      '      io_jwt: { max_num_entries: 1000 }',
      '',
    ].join('\n'),
  );
  const args = ['run', '--server', '--addr', `127.0.0.1:${o.httpPort}`, '--config-file', config, '--log-level', 'error', '--skip-version-check', join(PEERS, 'modelgate.rego'), data];
  return startChild('OPA-Envoy', o.bin, args, async () => (await httpGet(o.httpPort, '/health?plugins')).status === 200);
}
