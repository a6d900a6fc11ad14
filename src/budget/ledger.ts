// The budget ledger's public API: what the composition root, the ext_proc settlement path and
// tests use. Everything else in src/budget/ is internal to the limiter.
//
//   const ledger = createLedger({ limits, budgets }, { logger, clock });
//   ledger.limiter   // the Limiter port (ratelimit/limiter.ts): buckets + budgets + leases, one script per check
//   ledger.settler   // BudgetSettler: settle({ reservationId, usage, failed, now }) and release(reservationId, now)
//   await ledger.close();
//
// - The Check's limit outcome carries `reservation_id` (metadata; dynamic metadata namespace
//   envoy.filters.http.ext_authz) when a budget or lease applied, plus `budget_estimate_tokens`
//   and `budget_estimate_micro_units`; answer.ts also sets it as the upstream header
//   `x-modelgate-reservation` (answer.upstream_headers.reservation).
// - settle(): idempotent by reservation id; charges actual usage in full (an overrun beyond the
//   estimate too), frees the rest of the reservation, releases the lease. `failed` or no usage:
//   the input cost (the admission's input estimate when usage is absent). A reservation that
//   expired before settling still charges its usage, once. Outcomes: settled | already_settled |
//   unknown (no such reservation, or its record is gone) | error (backend failure; never throws).
// - release(): frees the concurrency lease only (access-log path), never charges; idempotent.
// - Memory and Redis give identical results for the same sequence (test/integration/budget).

import type { Logger } from 'pino';
import type { LimitsConfig } from '../ratelimit/config.js';
import { limitsSchema } from '../ratelimit/config.js';
import type { Limiter } from '../ratelimit/limiter.js';
import type { BudgetsConfig } from './config.js';
import type { BudgetSettler } from './settler-port.js';
import type { BudgetEvents } from './events.js';

export type { BudgetSettler, SettleRequest, SettleResult, Settler, Usage } from './settler-port.js';

export interface Ledger {
  readonly limiter: Limiter;
  /** Present when budgets or leases are configured. */
  readonly settler: BudgetSettler | undefined;
  close(): Promise<void>;
}

export interface LedgerOptions {
  readonly logger?: Logger;
  /** `redis` (production): bucket refills read Redis TIME; `request`: `request.now` (tests). Budgets always use `request.now`. */
  readonly clock?: 'redis' | 'request';
  readonly events?: BudgetEvents;
  readonly onRedisCall?: (outcome: 'ok' | 'error', seconds: number) => void;
  readonly onRedisCircuit?: (state: import('../ratelimit/circuit.js').CircuitState) => void;
}

/** Builds the limiter (Redis when limits.redis.url is set, else memory) and its settler on one ledger. */
export async function createLedger(config: { readonly limits?: LimitsConfig | undefined; readonly budgets?: BudgetsConfig | undefined }, options: LedgerOptions = {}): Promise<Ledger> {
  const { createLimiter } = await import('../ratelimit/create-limiter.js');
  const limiter = createLimiter(config.limits ?? limitsSchema.parse({}), { ...options, budgets: config.budgets });
  return { limiter, settler: limiter.settler, close: () => limiter.close() };
}
