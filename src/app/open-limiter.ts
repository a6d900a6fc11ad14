// The rate limiter of one serving process, built once: limits and their Redis connection outlive
// policy reloads. It goes on the closers stack the moment it exists, so a start that fails at any
// later step still closes the Redis connection.

import type { Logger } from 'pino';
import type { ModelgateMetrics } from '../metrics/metrics.js';
import type { LimitsConfig } from '../ratelimit/config.js';
import { createLimiter } from '../ratelimit/create-limiter.js';
import { unlimited, type Limiter } from '../ratelimit/limiter.js';
import type { Closers } from './closers.js';
import type { BudgetsConfig } from '../budget/config.js';
import { limitsSchema } from '../ratelimit/config.js';
import { budgetMetrics } from '../budget/metrics.js';

export interface OpenLimiterOptions {
  readonly logger: Logger;
  readonly metrics: Pick<ModelgateMetrics, 'redisCall' | 'redisCircuit'> & Partial<Pick<ModelgateMetrics, 'registry'>>;
  /** The `budgets` section: reservations and leases on the limiter's ledger (docs/budgets.md). */
  readonly budgets?: BudgetsConfig | undefined;
  readonly closers: Closers;
  /** How long to wait for the backend before serving anyway; default 5 s. */
  readonly readyWithinMs?: number;
}

export async function openLimiter(limits: LimitsConfig | undefined, options: OpenLimiterOptions): Promise<Limiter> {
  const { logger, metrics } = options;
  const budgets = options.budgets;
  const events = budgets && metrics.registry ? budgetMetrics(metrics.registry) : undefined;
  // Budgets without a limits section use the limits defaults (in memory unless limits.redis.url).
  const section = limits ?? (budgets ? limitsSchema.parse({}) : undefined);
  const limiter = section ? createLimiter(section, { logger, onRedisCall: metrics.redisCall, onRedisCircuit: metrics.redisCircuit, budgets, events }) : unlimited;
  options.closers.push('rate limiter', () => limiter.close());
  if (!(await waitUntilReady(limiter, options.readyWithinMs ?? 5_000))) {
    logger.warn('rate limiter backend not reachable at start; each limit applies its on_redis_error mode until it is');
  }
  return limiter;
}

/** Enforced buckets, budgets and leases that answer 503 when Redis fails; only the Redis limiter has a backend to lose. */
export function failClosedBuckets(limits: LimitsConfig | undefined, budgets?: BudgetsConfig): string[] {
  if (limits?.redis.url === undefined) return [];
  const enforced = (l: { shadow: boolean; on_redis_error: string }) => !l.shadow && l.on_redis_error === 'fail_closed';
  return [...limits.buckets.filter(enforced), ...(budgets?.budgets.filter(enforced) ?? []), ...(budgets?.concurrency.filter(enforced) ?? [])].map((b) => b.id);
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
