// The budget metrics as Prometheus shows them, fed by the real memory ledger: lines as last seen,
// exhausted and concurrency denials, expired reservations, settlements by outcome and their lag.

import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { budgetsSchema } from '../../../src/budget/config.js';
import { budgetMetrics } from '../../../src/budget/metrics.js';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { createLimiter } from '../../../src/ratelimit/create-limiter.js';
import { chat, reservationOf, T0 } from '../../helpers/budget/ledgers.js';

describe('budget metrics', () => {
  it('counts what the ledger did', async () => {
    const registry = new Registry();
    const limiter = createLimiter(limitsSchema.parse({}), {
      budgets: budgetsSchema.parse({ reservation_ttl_ms: 1_000, budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }], concurrency: [{ id: 'cc', per: 'subject', max_in_flight: 1 }] }),
      events: budgetMetrics(registry),
    });
    const id = reservationOf(await limiter.take(chat()));
    expect(await limiter.take(chat({ now: T0 + 1 }))).toMatchObject({ reason: 'budget_exhausted' });
    expect(await limiter.take(chat({ now: T0 + 2, prompt: 'a', maxTokens: 1 }))).toMatchObject({ reason: 'concurrency_limited' });
    await limiter.take(chat({ now: T0 + 1_500, prompt: 'a', maxTokens: 1 }));
    await limiter.settler!.settle({ reservationId: id, usage: undefined, failed: true, now: T0 + 2_500 });
    await limiter.settler!.settle({ reservationId: id, usage: undefined, failed: true, now: T0 + 2_600 });
    const text = await registry.metrics();
    expect(text).toContain('modelgate_budget_exhausted_total{budget="d"} 1');
    expect(text).toContain('modelgate_concurrency_limited_total{limit="cc"} 1');
    expect(text).toContain('modelgate_budget_reservations_expired_total 1');
    expect(text).toContain('modelgate_budget_used{budget="d",level="subject"} 0');
    expect(text).toContain('modelgate_budget_reserved{budget="d",level="subject"} 6');
    expect(text).toContain('modelgate_budget_settlements_total{outcome="settled"} 1');
    expect(text).toContain('modelgate_budget_settlements_total{outcome="already_settled"} 1');
    expect(text).toContain('modelgate_budget_settlement_lag_seconds_bucket{le="5"} 1');
    expect(text).toContain('modelgate_budget_settlement_lag_seconds_count 1');
  });
});
