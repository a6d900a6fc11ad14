// Prometheus metrics of the budget ledger, on the instance's registry. Labels are budget and
// lease ids from config and fixed outcome words: bounded, never a subject, team or org.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BudgetEvents } from './events.js';

export function budgetMetrics(registry: Registry): BudgetEvents {
  const registers = [registry];
  const used = new Gauge({ name: 'modelgate_budget_used', help: 'Used amount of the budget line last seen by an admission (its unit), by budget id and level', labelNames: ['budget', 'level'], registers });
  const reserved = new Gauge({ name: 'modelgate_budget_reserved', help: 'Reserved (admitted, unsettled) amount of the budget line last seen by an admission', labelNames: ['budget', 'level'], registers });
  const exhausted = new Counter({ name: 'modelgate_budget_exhausted_total', help: 'Requests denied budget_exhausted, by budget id', labelNames: ['budget'], registers });
  const concurrency = new Counter({ name: 'modelgate_concurrency_limited_total', help: 'Requests denied concurrency_limited, by concurrency id', labelNames: ['limit'], registers });
  const expired = new Counter({ name: 'modelgate_budget_reservations_expired_total', help: 'Reservations whose TTL passed before settlement (swept at a later admission)', registers });
  const settlements = new Counter({ name: 'modelgate_budget_settlements_total', help: 'Settlements by outcome (settled, already_settled, unknown, error)', labelNames: ['outcome'], registers });
  const lag = new Histogram({
    name: 'modelgate_budget_settlement_lag_seconds',
    help: 'Seconds from admission to settlement',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 900],
    registers,
  });
  return {
    lines: (lines) => {
      for (const l of lines) {
        used.set({ budget: l.budgetId, level: l.level }, l.used);
        reserved.set({ budget: l.budgetId, level: l.level }, l.reserved);
      }
    },
    exhausted: (budgetId) => exhausted.inc({ budget: budgetId }),
    concurrencyLimited: (id) => concurrency.inc({ limit: id }),
    expired: (count) => expired.inc(count),
    settled: (outcome, seconds) => {
      settlements.inc({ outcome });
      if (seconds !== undefined) lag.observe(seconds);
    },
  };
}
