// Item 4 of issue 12, failed starts: a busy port (gRPC, HTTP or admin) ends `modelgate serve` with
// exit 1 and one line naming the address, single-process and with --workers 2 (before: workers
// printed EADDRINUSE and the group stayed up with /readyz 503, or kept logging Redis errors). In
// process, a failed start closes what it had opened: the Redis connection, the audit store's writer
// lock, and the listeners bound before the one that failed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { startModelgate } from '../../../src/main.js';
import { CLI, freePort } from '../../helpers/serve-process.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { eventually } from '../../helpers/scrape.js';

const run = promisify(execFile);

interface Ports {
  grpc: number;
  http: number;
  admin: number;
  /** The audit receiver's own listener; 0 (a free port) when absent. */
  audit?: number;
}

/** Holds a port the way another process would: bound and listening on 127.0.0.1. */
async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  return server;
}
const release = (server: Server) => new Promise<void>((ok) => server.close(() => ok()));
async function portIsFree(port: number): Promise<boolean> {
  try {
    await release(await occupy(port));
    return true;
  } catch {
    return false;
  }
}
async function redisClients(redis: RedisServer): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(redis.port), 'client', 'list']);
  return stdout.trim().split('\n').length - 1; // minus redis-cli's own connection
}

/** Connections Redis has accepted since it started, redis-cli's own included. */
async function connectionsReceived(redis: RedisServer): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(redis.port), 'info', 'stats']);
  return Number(/total_connections_received:(\d+)/.exec(stdout)?.[1]);
}

describe('failed starts', () => {
  let dir: string;
  let redis: RedisServer;
  let ports: Ports;

  const writeConfig = (name: string, p: Ports, audit: boolean) => {
    const file = join(dir, name);
    writeFileSync(
      file,
      `server:
  grpc: { address: '127.0.0.1:${p.grpc}' }
  http: { enabled: true, address: '127.0.0.1:${p.http}' }
  admin: { address: '127.0.0.1:${p.admin}' }
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
limits:
  redis: { url: '${redis.url}' }
  buckets: [{ id: per-caller, rate: 100, per: second }]
${
  audit
    ? `audit:
  store: { dir: '${join(dir, 'store')}', signing_key_file: '${join(dir, 'audit.key')}' }
  privacy: { hash_key_file: '${join(dir, 'hash.key')}' }
  receiver: { listen: '127.0.0.1:${p.audit ?? 0}' }
`
    : ''
}`,
    );
    return file;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-start-failures-'));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'hash.key'), 'test-hash-key-0123456789abcdef');
    redis = await startRedis();
    ports = { grpc: await freePort(), http: await freePort(), admin: await freePort() };
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('in process: the stack of closers unwinds', () => {
    const silent = pino({ level: 'silent' });
    const start = (configFile: string) => startModelgate({ configFile, env: {}, logger: silent, watch: false });

    it.each([
      ['admin', 'admin'],
      ['gRPC', 'grpc'],
      ['HTTP authorization', 'http'],
    ] as const)('%s port busy: rejects naming the address, closes Redis, the audit store and the listeners it bound', async (role, which) => {
      const configFile = writeConfig(`in-process-${which}.yaml`, ports, true);
      const holder = await occupy(ports[which]);
      try {
        await expect(start(configFile)).rejects.toThrow(`cannot listen on 127.0.0.1:${ports[which]} (${role}): address already in use`);
        // Every other port is free again, Redis has no connection from us left.
        for (const other of (['grpc', 'http', 'admin'] as const).filter((p) => p !== which)) expect(await portIsFree(ports[other])).toBe(true);
        await eventually(async () => (await redisClients(redis)) === 0, 5_000, 'no Redis connection left');
      } finally {
        await release(holder);
      }
      // The audit store's writer lock (held per process) was released: the same config starts now.
      const gate = await start(configFile);
      expect(gate.grpcPort).toBe(ports.grpc);
      await gate.close();
      await eventually(async () => (await redisClients(redis)) === 0, 5_000, 'no Redis connection left after close');
    });
  });

  describe('in process: a config that fails to build after the limiter opened', () => {
    const silent = pino({ level: 'silent' });

    it('rejects with the problem and leaves no Redis connection (the limiter is first on the stack of closers)', async () => {
      // Schema-valid, so the limiter (and its Redis connection) opens; the API key secret is missing,
      // so building the stages fails next, before any listener.
      const configFile = join(dir, 'build-fails.yaml');
      writeFileSync(
        configFile,
        `server:
  grpc: { address: '127.0.0.1:0' }
  admin: { enabled: false }
identity:
  order: [api_key]
  api_keys: { secret_env: MODELGATE_TEST_MISSING_SECRET, keys: [] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
limits:
  redis: { url: '${redis.url}' }
  buckets: [{ id: per-caller, rate: 100, per: second }]
`,
      );
      const before = await connectionsReceived(redis);
      await expect(startModelgate({ configFile, env: {}, logger: silent, watch: false })).rejects.toThrow(
        /identity\.api_keys\.secret_env: API key secret missing: set env MODELGATE_TEST_MISSING_SECRET/,
      );
      // The start did reach Redis before the build failed (one connection is redis-cli's own) ...
      expect((await connectionsReceived(redis)) - before).toBeGreaterThanOrEqual(2);
      // ... and closed that connection when the build failed.
      await eventually(async () => (await redisClients(redis)) === 0, 5_000, 'no Redis connection left');
    });
  });

  describe('modelgate serve: exit 1 with one line naming the address', () => {
    const serve = async (args: string[], configFile: string) => {
      const started = Date.now();
      const result = await run(process.execPath, [...CLI, 'serve', '--config', configFile, ...args], { timeout: 45_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number | null; signal: string | null; stderr: string }) => ({ code: error.code ?? error.signal, stderr: error.stderr }),
      );
      return { ...result, seconds: (Date.now() - started) / 1000 };
    };

    it.each([
      ['single process, gRPC', ['--workers', '1'], 'grpc', 'gRPC'],
      ['single process, admin', ['--workers', '1'], 'admin', 'admin'],
      ['--workers 2, gRPC', ['--workers', '2'], 'grpc', 'gRPC'],
      ['--workers 2, HTTP', ['--workers', '2'], 'http', 'HTTP authorization'],
      ['--workers 2, admin', ['--workers', '2'], 'admin', 'admin'],
    ] as const)('%s port busy', async (_name, args, which, role) => {
      const configFile = writeConfig(`serve-${which}-${args[1]}.yaml`, ports, false);
      const holder = await occupy(ports[which]);
      try {
        const result = await serve([...args], configFile);
        expect(result.code).toBe(1);
        // The primary announces its admin port before forking; after that, the failure is one line.
        const lines = result.stderr.split('\n').filter((l) => l !== '' && !/^modelgate primary \d+: serving metrics and health/.test(l));
        expect(lines).toEqual([`modelgate: cannot listen on 127.0.0.1:${ports[which]} (${role}): address already in use`]);
      } finally {
        await release(holder);
      }
      // Nothing the group opened is left behind.
      for (const other of (['grpc', 'http', 'admin'] as const).filter((p) => p !== which)) expect(await portIsFree(ports[other])).toBe(true);
      await eventually(async () => (await redisClients(redis)) === 0, 5_000, 'no Redis connection left');
    }, 60_000);
  });
});
