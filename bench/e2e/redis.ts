// A throwaway redis-server for the Redis-limiter row: a free loopback port (never 6379), a temp
// dir, no persistence. Bench-local on purpose: bench/ does not import test helpers.

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../procs.js';
import { startChild, type Child } from './child.js';

export interface BenchRedis extends Child {
  readonly url: string;
}

export async function startRedis(): Promise<BenchRedis> {
  let port = await freePort();
  while (port === 6379) port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-e2e-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
  const child = await startChild('redis-server', 'redis-server', args, () => ping(port));
  return { ...child, url: `redis://127.0.0.1:${port}` };
}

export function redisVersion(): string {
  return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
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
