// Optional distributed feed: every durable chain entry is XADDed to one Redis Stream (one key, so one cluster slot).

import { Cluster, Redis } from 'ioredis';
import { canonicalJson } from './canonical.js';
import type { ChainedEntry } from './chain-entry.js';

export interface RedisStreamSinkOptions {
  readonly client: Redis | Cluster;
  readonly stream: string;
  /** Approximate cap (`MAXLEN ~`): Redis trims whole macro-nodes, cheaply, so the length floats a little above. */
  readonly maxLen: number;
  readonly onError?: (error: Error, entries: number) => void;
  /** A batch not acknowledged within this is reported as failed (default 5 s). */
  readonly timeoutMs?: number;
  /** Batches waiting beyond this are dropped and reported, so an outage cannot eat memory (default 1000). */
  readonly maxQueuedBatches?: number;
}

/**
 * The file store stays the source of truth: the stream is fed after fsync, in chain order, and a
 * Redis failure is reported, never allowed to block or fail the durable write. Each stream entry
 * carries seq, prev and hash, so a consumer can check continuity and spot gaps itself.
 */
export class RedisStreamSink {
  private queue: Promise<void> = Promise.resolve();
  private failures = 0;
  private queued = 0;

  constructor(private readonly options: RedisStreamSinkOptions) {}

  get failedBatches(): number {
    return this.failures;
  }

  /** Suitable as ChainStore's `onDurable`. Order is kept by running one batch at a time. */
  publish = (entries: readonly ChainedEntry[]): void => {
    if (this.queued >= (this.options.maxQueuedBatches ?? 1000)) {
      this.failures += 1;
      this.options.onError?.(new Error('redis stream queue full; batch dropped'), entries.length);
      return;
    }
    this.queued += 1;
    this.queue = this.queue.then(() => this.send(entries)).finally(() => void (this.queued -= 1));
  };

  /** Resolves once everything published so far was sent (or failed and was reported). */
  drain(): Promise<void> {
    return this.queue;
  }

  private async send(entries: readonly ChainedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const { client, stream, maxLen } = this.options;
    const pipeline = client.pipeline();
    for (const e of entries) {
      pipeline.xadd(stream, 'MAXLEN', '~', maxLen, '*', 'seq', e.seq, 'type', e.type, 'prev', e.prev, 'hash', e.hash, 'entry', canonicalJson(e));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('redis stream append timed out')), this.options.timeoutMs ?? 5_000);
    });
    try {
      const results = (await Promise.race([pipeline.exec(), timeout])) ?? [];
      const failed = results.find(([error]) => error);
      if (failed?.[0]) throw failed[0];
    } catch (error) {
      this.failures += 1;
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)), entries.length);
    } finally {
      clearTimeout(timer);
    }
  }
}

// Fail queued commands after a couple of reconnect attempts instead of holding them forever.
const CLIENT_OPTIONS = { maxRetriesPerRequest: 2 } as const;

/** One client for `redis://` URLs; a Cluster client for `redis+cluster://h:p,h:p`, several URLs, or `cluster: true`. */
export function createRedisClient(urls: readonly string[], cluster: boolean): Redis | Cluster {
  const first = urls[0] ?? 'redis://127.0.0.1:6379';
  if (!cluster && urls.length === 1 && !first.startsWith('redis+cluster://')) return new Redis(first, CLIENT_OPTIONS);
  const nodes = urls.flatMap((u) =>
    u.replace(/^redis(\+cluster)?:\/\//, '').split(',').map((hp) => {
      const [host, port] = hp.split(':');
      return { host: host || '127.0.0.1', port: Number(port || 6379) };
    }),
  );
  return new Cluster(nodes, { redisOptions: CLIENT_OPTIONS });
}
