// Composition for the audit commands: config → privacy, signing key, chain store and optional Redis stream.

import { ChainStore } from './chain-store.js';
import type { AuditConfig } from './config.js';
import { loadPrivacy, type Privacy } from './privacy.js';
import { createRedisClient, RedisStreamSink } from './redis-sink.js';
import { loadSigningKey } from './signing.js';

export interface AuditLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AuditRuntime {
  readonly store: ChainStore;
  readonly privacy: Privacy;
  /** Flushes and seals the store, drains and closes Redis. */
  close(): Promise<void>;
}

export type RuntimeResult = { ok: true; runtime: AuditRuntime } | { ok: false; error: string };

export async function openAuditRuntime(config: AuditConfig, log: AuditLog, clock: () => number = Date.now, env: NodeJS.ProcessEnv = process.env): Promise<RuntimeResult> {
  // The hash key comes from the environment the caller runs with (serve's injected env, not this process's).
  const privacy = await loadPrivacy(config.privacy, env);
  if (!privacy.ok) return privacy;
  const key = await loadSigningKey(config.store.signing_key_file);
  if (!key.ok) return { ok: false, error: `audit.store.signing_key_file: ${key.error}` };
  let redis: { sink: RedisStreamSink; quit(): Promise<unknown> } | undefined;
  if (config.redis.enabled) {
    const client = createRedisClient(config.redis.urls, config.redis.cluster);
    client.on('error', (error: Error) => log.warn({ err: error.message }, 'audit redis connection error'));
    const sink = new RedisStreamSink({
      client,
      stream: config.redis.stream,
      maxLen: config.redis.max_len,
      onError: (error, entries) => log.error({ err: error.message, entries }, 'audit redis stream append failed; records are safe in the file store'),
    });
    redis = { sink, quit: () => client.quit() };
  }
  const store = await ChainStore.open({
    dir: config.store.dir,
    signingKey: key.key,
    clock,
    segmentMaxBytes: config.store.segment_max_bytes,
    segmentMaxAgeMs: config.store.segment_max_age,
    batchMaxRecords: config.store.batch_max_records,
    batchMaxDelayMs: config.store.batch_max_delay,
    ...(redis ? { onDurable: redis.sink.publish } : {}),
  });
  if (store.recovered) log.warn({ ...store.recovered }, 'audit store: cut off a torn final line left by a crash; recorded in the chain');
  return {
    ok: true,
    runtime: {
      store,
      privacy: privacy.privacy,
      async close() {
        await store.close();
        if (redis) {
          await redis.sink.drain();
          await redis.quit().catch(() => undefined);
        }
      },
    },
  };
}
