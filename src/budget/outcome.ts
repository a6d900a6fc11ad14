// Turns a check's take result with an admission into the limiter port's outcome: the buckets'
// report (report.ts) plus the reservation id and estimate on allow, or a budget / concurrency deny
// with remaining, reset and Retry-After.

import type { LimitOutcome } from '../ratelimit/limiter.js';
import type { PlannedCharge } from '../ratelimit/compile.js';
import { toOutcome, type ReportOptions } from '../ratelimit/report.js';
import type { TakeResult } from '../ratelimit/take-tokens.js';
import type { Admission, AdmissionVerdict, LedgerLine } from './admission.js';
import type { EstimateProblem } from './estimate.js';
import type { BudgetEvents } from './events.js';

export const BUDGET_REMAINING_HEADER = 'x-modelgate-budget-remaining';
export const BUDGET_RESET_HEADER = 'x-modelgate-budget-reset';

/** No estimate could be made for an enforced budget: refuse, never guess (fail closed). */
export function problemOutcome(problem: EstimateProblem): LimitOutcome {
  return { allowed: false, reason: problem.reason, detail: problem.detail, responseHeaders: [], metadata: { budget_error: problem.reason }, shadowDenied: [] };
}

/** When a line's used counter next drops: the period's end, or when its oldest summed slice leaves (rolling). */
export function resetMsOf(line: LedgerLine, oldest: number): number {
  if (line.spec.kind === 'calendar' || oldest < 0) return line.resetMs;
  return (oldest + line.spec.slices + 1) * line.spec.sliceMs;
}

const remainingOf = (line: LedgerLine, used: number, reserved: number): number => Math.max(0, line.limit - used - reserved);

export function admissionOutcome(result: TakeResult, charges: readonly PlannedCharge[], a: Admission, options: ReportOptions, events: BudgetEvents = {}): LimitOutcome {
  if (result.status === 'refused') return refused(a, result.admission, events);
  const buckets = toOutcome(result, charges, options);
  if (result.status !== 'allowed' || result.admission === undefined || !result.admission.ok) return buckets;
  const verdict = result.admission;
  if (verdict.expired > 0) events.expired?.(verdict.expired);
  const seen = a.lines.map((line, i) => ({ budgetId: line.budgetId, level: line.level, used: verdict.used[i] ?? 0, reserved: verdict.reserved[i] ?? 0 }));
  events.lines?.(seen);
  // Shadow lines are charged like the others and reported when over their limit.
  const shadowDenied = [...buckets.shadowDenied];
  let tightest: { line: LedgerLine; remaining: number } | undefined;
  a.lines.forEach((line, i) => {
    const used = verdict.used[i] ?? 0;
    const reserved = verdict.reserved[i] ?? 0;
    if (line.shadow) {
      if (used + reserved > line.limit) shadowDenied.push(line.budgetId);
      return;
    }
    const remaining = remainingOf(line, used, reserved);
    if (tightest === undefined || remaining < tightest.remaining) tightest = { line, remaining };
  });
  const metadata: Record<string, string | number> = {
    ...buckets.metadata,
    reservation_id: a.reservationId,
    budget_estimate_tokens: a.estimate.inputTokens + a.estimate.outputTokens,
    budget_estimate_micro_units: a.microUnits,
  };
  const headers = [...buckets.responseHeaders];
  if (tightest !== undefined) {
    metadata.budget_id = tightest.line.budgetId;
    metadata.budget_remaining = tightest.remaining;
    headers.push([BUDGET_REMAINING_HEADER, String(tightest.remaining)], [BUDGET_RESET_HEADER, String(Math.ceil(tightest.line.resetMs / 1000))]);
  }
  if (shadowDenied.length > 0) metadata.ratelimit_shadow_denied = shadowDenied.join(',');
  return { allowed: true, responseHeaders: headers, metadata, shadowDenied };
}

function refused(a: Admission, verdict: AdmissionVerdict & { ok: false }, events: BudgetEvents): LimitOutcome {
  if (verdict.expired > 0) events.expired?.(verdict.expired);
  if (verdict.kind === 'lease') {
    const lease = a.leases[verdict.index]!;
    events.concurrencyLimited?.(lease.leaseId);
    const retryAfterSeconds = Math.max(1, Math.ceil((verdict.oldest - a.nowMs) / 1000));
    return {
      allowed: false,
      reason: 'concurrency_limited',
      retryAfterSeconds,
      limitId: lease.leaseId,
      responseHeaders: [['retry-after', String(retryAfterSeconds)]],
      metadata: { concurrency_id: lease.leaseId, concurrency_in_flight: verdict.count, concurrency_max: lease.max },
      shadowDenied: [],
      bodyExtra: { concurrency_id: lease.leaseId, max_in_flight: lease.max, retry_after: retryAfterSeconds },
    };
  }
  const line = a.lines[verdict.index]!;
  events.exhausted?.(line.budgetId);
  const remaining = remainingOf(line, verdict.used, verdict.reserved);
  const reset = Math.ceil(resetMsOf(line, verdict.oldest) / 1000);
  return {
    allowed: false,
    reason: 'budget_exhausted',
    limitId: line.budgetId,
    responseHeaders: [[BUDGET_REMAINING_HEADER, String(remaining)], [BUDGET_RESET_HEADER, String(reset)]],
    metadata: { budget_id: line.budgetId, budget_level: line.level, budget_remaining: remaining, budget_reset: reset, budget_estimate: line.amount },
    shadowDenied: [],
    bodyExtra: { budget_id: line.budgetId, unit: line.unit, remaining, reset, reset_at: new Date(reset * 1000).toISOString() },
  };
}
