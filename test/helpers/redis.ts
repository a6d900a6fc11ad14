// Real Redis servers for tests: Debian's redis-server on free ports in temp dirs, never 6379.
//
// API (small on purpose; other suites import it):
//   const redis = await startRedis();          // { url, port, stop(), kill(), restart() }
//   const cluster = await startRedisCluster(); // three masters: { url, urls, nodes, stop() }
//   await redis.stop();                         // always, in afterAll
// `url` of a cluster is `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`; `urls` are
// the nodes' own redis:// URLs. Processes left behind are SIGKILLed when the test process exits.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI ?? 'redis-cli';
const run = promisify(execFile);

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Graceful shutdown, then the temp dir is removed. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; `restart()` brings it back on the same port (empty). */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface RedisCluster {
  readonly url: string;
  readonly urls: readonly string[];
  readonly nodes: readonly RedisServer[];
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Extra redis-server arguments, e.g. ['--cluster-enabled', 'yes']. */
  readonly args?: readonly string[];
  /** Also keep port + 10000 free (the cluster bus port). */
  readonly busPort?: boolean;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePort(busPort: boolean): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    if (port === 6379 || port === 0) continue;
    if (!busPort) return port;
    if (port + 10_000 <= 65_535 && (await portIsFree(port + 10_000))) return port;
  }
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
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts redis-server on `port` in `dir`; resolves once it answers PING, rejects if it exits. */
async function launch(port: number, dir: string, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--logfile', join(dir, 'redis.log'), ...args],
    { stdio: 'ignore' },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on port ${port} exited early`);
    if (await ping(port)) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer within 10 s`);
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const args = options.args ?? [];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(options.busPort ?? false);
    const dir = mkdtempSync(join(tmpdir(), 'modelgate-redis-'));
    dirs.add(dir);
    let child: ChildProcess;
    try {
      child = await launch(port, dir, args);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
      if (attempt >= 5) throw error;
      continue; // another process took the port between probe and bind
    }
    const kill = async () => {
      child.kill('SIGKILL');
      await exited(child);
    };
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      kill,
      async stop() {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited(child);
        clearTimeout(timer);
        rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
      },
      async restart() {
        await kill();
        child = await launch(port, dir, args);
      },
    };
  }
}

/** Three masters, no replicas, all 16384 slots assigned; resolves when every node says ok. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const clusterArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'];
  const nodes = await Promise.all([0, 1, 2].map(() => startRedis({ args: clusterArgs, busPort: true })));
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      for (;;) {
        const { stdout } = await run(REDIS_CLI, ['-p', String(node.port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok') && stdout.includes('cluster_slots_assigned:16384')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${node.port} not ok: ${stdout}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { url: `redis+cluster://${addresses.join(',')}`, urls: nodes.map((n) => n.url), nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
