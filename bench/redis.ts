// A throwaway redis-server for the benches' Redis-limiter rows: a free loopback port (never 6379),
// a temp dir, no persistence. Bench-local on purpose: bench/ never imports test helpers (a test
// helper may grow test-only behaviour; test/unit/repo/bench-imports.test.ts holds the line).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, type Child } from './child.js';
import { freePort } from './procs.js';

export interface RedisServer extends Child {
  readonly url: string;
  readonly port: number;
}

const REDIS_SERVER = process.env['REDIS_SERVER'] ?? 'redis-server';

/** Resolves once it answers PING; `stop()` shuts it down gracefully (SIGKILL after 5 s), then removes its dir. */
export async function startRedis(): Promise<RedisServer> {
  let port = await freePort();
  while (port === 6379) port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
  let child: Child;
  try {
    child = await startChild('redis-server', REDIS_SERVER, args, () => ping(port));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...child,
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function redisVersion(): string {
  return /v=(\S+)/.exec(execFileSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}
