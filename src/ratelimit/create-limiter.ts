// Chooses the limiter adapter for the `limits` config: none, embedded memory, or Redis.

import type { Logger } from 'pino';
import { unlimited, type Limiter } from './limiter.js';
import type { LimitsConfig } from './config.js';
import type { CircuitState } from './circuit.js';
import { compileLimits } from './compile.js';
import { MemoryLimiter } from './memory-limiter.js';
import { RedisLimiter } from './redis-limiter.js';
import type { BudgetsConfig } from '../budget/config.js';
import type { BudgetEvents } from '../budget/events.js';

export interface CreateLimiterOptions {
  readonly logger?: Logger;
  /** Each Redis script call's outcome and duration (the Redis limiter only): metrics. */
  readonly onRedisCall?: (outcome: 'ok' | 'error', seconds: number) => void;
  /** Each change of the Redis circuit's state (the Redis limiter only): metrics. */
  readonly onRedisCircuit?: (state: CircuitState) => void;
  /** The `budgets` section: reservations and leases in the same script call as the buckets. */
  readonly budgets?: BudgetsConfig | undefined;
  readonly events?: BudgetEvents | undefined;
  /** Tests: `request` drives bucket refills by `request.now` instead of Redis TIME. */
  readonly clock?: 'redis' | 'request';
}

/**
 * `unlimited` when no bucket is configured; the Redis limiter when `redis.url` is set; else the
 * embedded in-memory limiter, which is right for a single replica only.
 */
export function createLimiter(config: LimitsConfig, options: CreateLimiterOptions = {}): Limiter {
  const budgets = options.budgets;
  const hasBudgets = budgets !== undefined && (budgets.budgets.length > 0 || budgets.concurrency.length > 0);
  if (config.buckets.length === 0 && !hasBudgets) return unlimited;
  const compiled = compileLimits(config, hasBudgets ? budgets : undefined);
  if (config.redis.url !== undefined) {
    return new RedisLimiter(compiled, { logger: options.logger, onCall: options.onRedisCall, onCircuit: options.onRedisCircuit, events: options.events, clock: options.clock });
  }
  options.logger?.warn('rate limits and budgets are kept in memory: correct for a single replica only (set limits.redis.url)');
  return new MemoryLimiter(compiled, options.events);
}
