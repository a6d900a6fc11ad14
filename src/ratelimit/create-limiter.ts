// Chooses the limiter adapter for the `limits` config: none, embedded memory, or Redis.

import type { Logger } from 'pino';
import { unlimited, type Limiter } from './limiter.js';
import type { LimitsConfig } from './config.js';
import type { CircuitState } from './circuit.js';
import { compileLimits } from './compile.js';
import { MemoryLimiter } from './memory-limiter.js';
import { RedisLimiter } from './redis-limiter.js';

export interface CreateLimiterOptions {
  readonly logger?: Logger;
  /** Each Redis script call's outcome and duration (the Redis limiter only): metrics. */
  readonly onRedisCall?: (outcome: 'ok' | 'error', seconds: number) => void;
  /** Each change of the Redis circuit's state (the Redis limiter only): metrics. */
  readonly onRedisCircuit?: (state: CircuitState) => void;
}

/**
 * `unlimited` when no bucket is configured; the Redis limiter when `redis.url` is set; else the
 * embedded in-memory limiter, which is right for a single replica only.
 */
export function createLimiter(config: LimitsConfig, options: CreateLimiterOptions = {}): Limiter {
  if (config.buckets.length === 0) return unlimited;
  const compiled = compileLimits(config);
  if (config.redis.url !== undefined) {
    return new RedisLimiter(compiled, { logger: options.logger, onCall: options.onRedisCall, onCircuit: options.onRedisCircuit });
  }
  options.logger?.warn('rate limits are kept in memory: correct for a single replica only (set limits.redis.url)');
  return new MemoryLimiter(compiled);
}
