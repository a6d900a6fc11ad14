// The rate limiter of one serving process, built once: limits and their Redis connection outlive
// policy reloads. It goes on the closers stack the moment it exists, so a start that fails at any
// later step still closes the Redis connection.

import type { Logger } from 'pino';
import type { ModelgateMetrics } from '../metrics/metrics.js';
import type { LimitsConfig } from '../ratelimit/config.js';
import { createLimiter } from '../ratelimit/create-limiter.js';
import { unlimited, type Limiter } from '../ratelimit/limiter.js';
import type { Closers } from './closers.js';

export interface OpenLimiterOptions {
  readonly logger: Logger;
  readonly metrics: Pick<ModelgateMetrics, 'redisCall' | 'redisCircuit'>;
  readonly closers: Closers;
  /** How long to wait for the backend before serving anyway; default 5 s. */
  readonly readyWithinMs?: number;
}

export async function openLimiter(limits: LimitsConfig | undefined, options: OpenLimiterOptions): Promise<Limiter> {
  const { logger, metrics } = options;
  const limiter = limits ? createLimiter(limits, { logger, onRedisCall: metrics.redisCall, onRedisCircuit: metrics.redisCircuit }) : unlimited;
  options.closers.push('rate limiter', () => limiter.close());
  if (!(await waitUntilReady(limiter, options.readyWithinMs ?? 5_000))) {
    logger.warn('rate limiter backend not reachable at start; each limit applies its on_redis_error mode until it is');
  }
  return limiter;
}

/** Enforced buckets that answer 503 when Redis fails; only the Redis limiter has a backend to lose. */
export function failClosedBuckets(limits: LimitsConfig | undefined): string[] {
  if (limits?.redis.url === undefined) return [];
  return limits.buckets.filter((b) => !b.shadow && b.on_redis_error === 'fail_closed').map((b) => b.id);
}

/** Serving before the limiter's backend is connected would send the first checks to the fail mode. */
async function waitUntilReady(limiter: Limiter, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if (await limiter.ready()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
