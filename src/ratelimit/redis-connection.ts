// Opens the Redis connection the limiter uses: standalone, TLS or cluster, from one URL.

import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { TOKEN_BUCKET_ADMIT_LUA, TOKEN_BUCKET_LUA } from './token-bucket-script.js';

export type LimiterClient = Redis | Cluster;

type ScriptCommand = (...keysAndArgs: string[]) => Promise<unknown[]>;

/**
 * Runs the token-bucket script (EVALSHA, EVAL on NOSCRIPT, via ioredis defineCommand). One
 * command is defined per key count because ioredis routes an auto-pipelined script on a cluster
 * by its first key, which it can only find when `numberOfKeys` is fixed.
 */
export function evalTakeScript(client: LimiterClient, keys: readonly string[], args: readonly string[]): Promise<unknown[]> {
  const name = `modelgateTake${keys.length}`;
  const commands = client as unknown as Record<string, ScriptCommand | undefined>;
  let command = commands[name];
  if (command === undefined) {
    client.defineCommand(name, { lua: TOKEN_BUCKET_LUA, numberOfKeys: keys.length });
    command = commands[name]!;
  }
  return command.call(client, ...keys, ...args);
}

/** The check script with budgets and leases (TOKEN_BUCKET_ADMIT_LUA), one command per key count as above. */
export function evalAdmitScript(client: LimiterClient, keys: readonly string[], args: readonly string[]): Promise<unknown[]> {
  const name = `modelgateAdmit${keys.length}`;
  const commands = client as unknown as Record<string, ScriptCommand | undefined>;
  let command = commands[name];
  if (command === undefined) {
    client.defineCommand(name, { lua: TOKEN_BUCKET_ADMIT_LUA, numberOfKeys: keys.length });
    command = commands[name]!;
  }
  return command.call(client, ...keys, ...args);
}

export interface ConnectOptions {
  readonly url: string;
  /**
   * ioredis's own per-command timeout, for one-off tools. The limiter leaves it unset: its
   * Deadlines decide when Redis did not answer, with one timer for all checks, after reading
   * what has arrived (ioredis arms a timer per command and fires it before the socket is read).
   */
  readonly timeoutMs?: number;
  readonly tlsCaFile?: string | undefined;
  /** Called for every connection error event; ioredis reconnects by itself. */
  readonly onError: (error: Error) => void;
}

export interface ClusterUrl {
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly nodes: { host: string; port: number }[];
}

/** `redis+cluster://[user:pass@]host:port,host:port` (or `rediss+cluster://` for TLS). */
export function parseClusterUrl(url: string): ClusterUrl | undefined {
  const m = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)/.exec(url);
  if (m === null) return undefined;
  const [, scheme, auth, hosts = ''] = m;
  const nodes = hosts.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const host = at > 0 ? hostPort.slice(0, at) : hostPort;
    const port = at > 0 ? Number(hostPort.slice(at + 1)) : 6379;
    if (host === '' || !Number.isInteger(port)) throw new Error(`bad cluster node '${hostPort}' in redis url`);
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
  const colon = auth?.indexOf(':') ?? -1;
  return {
    tls: scheme === 'rediss',
    ...(auth === undefined ? {} : colon < 0 ? { password: decodeURIComponent(auth) } : {
      username: decodeURIComponent(auth.slice(0, colon)) || undefined,
      password: decodeURIComponent(auth.slice(colon + 1)),
    }),
    nodes,
  } as ClusterUrl;
}

/** Redacts the password for logs and CLI output. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

export function connectRedis(options: ConnectOptions): LimiterClient {
  const tls = options.tlsCaFile === undefined ? {} : { ca: readFileSync(options.tlsCaFile) };
  const common: RedisOptions = {
    // A check must answer within Envoy's budget: fail fast instead of queueing while disconnected.
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    ...(options.timeoutMs === undefined ? {} : { commandTimeout: options.timeoutMs }),
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 50, 500),
  };
  const cluster = parseClusterUrl(options.url);
  let client: Redis | Cluster;
  if (cluster === undefined) {
    const secure = options.url.startsWith('rediss://');
    client = new Redis(options.url, { ...common, ...(secure ? { tls } : {}) });
  } else {
    const { enableOfflineQueue, enableAutoPipelining, retryStrategy, maxRetriesPerRequest, ...redisOptions } = common;
    client = new Cluster(cluster.nodes, {
      enableOfflineQueue,
      enableAutoPipelining,
      clusterRetryStrategy: (times) => Math.min(times * 100, 1_000),
      slotsRefreshTimeout: 2_000,
      // After a failover the promoted replica is found by a slot refresh: ioredis follows MOVED in
      // an auto-pipelined batch only when every command got the same redirect, so a mixed batch
      // leaves the old map in place until the next refresh (its default is every 5 s).
      slotsRefreshInterval: 1_000,
      redisOptions: {
        ...redisOptions,
        maxRetriesPerRequest,
        ...(cluster.username === undefined ? {} : { username: cluster.username }),
        ...(cluster.password === undefined ? {} : { password: cluster.password }),
        ...(cluster.tls ? { tls } : {}),
      },
    });
    client.on('node error', (error: Error) => options.onError(error));
  }
  client.on('error', (error: Error) => options.onError(error));
  return client;
}
