// Bench processes: the servers under test (modelgate via its real CLI, the ceiling), the Node load
// generator, a free-port finder, RSS readings, and a real gRPC client that checks decisions.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { checkClient } from '../src/grpc/client.js';
import { structToJson } from '../src/grpc/struct.js';
import type { Payload } from './fixtures.js';

export const ROOT = join(import.meta.dirname, '..');
const TSX = ['--import', 'tsx'];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface Server {
  readonly name: string;
  readonly port: number;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((ok) => p.once('exit', () => ok()));
}

async function launch(name: string, args: string[], port: number, ready: () => Promise<boolean>, nodeFlags: string[] = []): Promise<Server> {
  const proc = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: ROOT,
    // Decision log lines go to /dev/null: pino still builds and writes every one, as in production.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}: ${stderr}`);
    if (await ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name} not ready within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name,
    port,
    proc,
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited(proc);
      clearTimeout(timer);
      live.delete(proc);
    },
  };
}

/** Ready once a real Check gets an answer (any decision). */
const answers = (port: number, payload: Payload) => async () => {
  const client = checkClient(`127.0.0.1:${port}`);
  try {
    await client.check(payload.request, 1000);
    return true;
  } finally {
    client.close();
  }
};

export async function startCeiling(workers: number, probe: Payload): Promise<Server> {
  const port = await freePort();
  return launch(`ceiling ×${workers}`, [...TSX, 'bench/ceiling-server.ts', '--port', String(port), '--workers', String(workers)], port, answers(port, probe));
}

/** Where the bench compiles src/ (git-ignored, inside the repo so node_modules resolves). */
export const BUILD_DIR = join(ROOT, 'bench', 'results', 'dist');

/** `tsc -p tsconfig.build.json` into BUILD_DIR: the bench measures what the image runs, not tsx. */
export function buildModelgate(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR], { cwd: ROOT, stdio: 'inherit' });
  // The load generator too: under tsx its per-request closures cost CPU the server needs.
  execFileSync(process.execPath, [tsc, '--outDir', LOADGEN_DIR, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', '--strict', 'bench/loadgen.ts'], { cwd: ROOT, stdio: 'inherit' });
}
const LOADGEN_DIR = join(ROOT, 'bench', 'results', 'loadgen');

export async function startModelgate(o: { configFile: string; workers: number; probe: Payload; nodeFlags?: string[]; fromSource?: boolean }): Promise<Server> {
  const port = await freePort();
  // The real CLI, compiled (as the Docker image runs dist/cli/index.js) or from source via tsx.
  // tsx wraps every closure created at run time in a `__name` call, which costs the pipeline ~10%.
  const cli = o.fromSource ? [...TSX, 'src/cli/index.ts'] : [join(BUILD_DIR, 'cli', 'index.js')];
  const args = [...cli, 'serve', '--config', o.configFile, '--address', `127.0.0.1:${port}`, '--workers', String(o.workers)];
  return launch(`modelgate ×${o.workers}`, args, port, answers(port, o.probe), o.nodeFlags);
}

/** Checks `count` decisions with a real grpc-js client; returns how many were not what the row expects. */
export async function sampleDecisions(port: number, payload: Payload, count: number, bare: boolean): Promise<{ checked: number; wrong: string[] }> {
  const client = checkClient(`127.0.0.1:${port}`);
  const wrong: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const res = await client.check(payload.request, 2000);
      const code = res.status?.code ?? 0;
      const reason = bare ? payload.expect.reason : structToJson(res.dynamic_metadata).reason;
      if (code !== payload.expect.code || reason !== payload.expect.reason) wrong.push(`code ${code} reason ${String(reason)}`);
    }
  } catch (error) {
    wrong.push(`client error: ${(error as Error).message}`);
  } finally {
    client.close();
  }
  return { checked: count, wrong };
}

export interface OpenLoopResult {
  offered: number;
  sent: number;
  completed: number;
  correct: number;
  wrong: number;
  errors: number;
  firstWrong?: string;
  achieved: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export function openLoop(o: { port: number; payload: Payload; rate: number; seconds: number; warmup: number; connections: number; bare: boolean }): Promise<OpenLoopResult> {
  const spec = JSON.stringify({ port: o.port, file: o.payload.file, rate: Math.max(1, Math.round(o.rate)), seconds: o.seconds, warmup: o.warmup, connections: o.connections, expect: o.payload.expect, bare: o.bare });
  const proc = spawn(process.execPath, [join(LOADGEN_DIR, 'loadgen.js'), spec], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const killer = setTimeout(() => proc.kill('SIGKILL'), (o.seconds + o.warmup + 30) * 1000);
  return new Promise((resolve, reject) =>
    proc.once('exit', (code) => {
      clearTimeout(killer);
      live.delete(proc);
      const line = out.trim().split('\n').pop();
      if (code === 0 && line) resolve(JSON.parse(line) as OpenLoopResult);
      else reject(new Error(`loadgen exited ${code}: ${err}`));
    }),
  );
}

/** Resident set size in MiB of one process, from /proc. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The modelgate_jwt_cache_lookups_total counters from the admin endpoint. */
export async function jwtCacheLookups(adminPort: number): Promise<{ hit: number; miss: number }> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const read = (result: string) => Number(new RegExp(`modelgate_jwt_cache_lookups_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { hit: read('hit'), miss: read('miss') };
}
