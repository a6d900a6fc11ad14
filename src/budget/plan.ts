// Compiles the `budgets` section once at load into a planner: the check's budget root (its Redis
// hash tag), the ledger lines and leases that apply, the estimate, and a fresh reservation id.

import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import type { LimitRequest } from '../ratelimit/limiter.js';
import { escapeKeyPart } from '../ratelimit/keys.js';
import type { BudgetsConfig } from './config.js';
import { estimate, isEstimateProblem, type EstimateProblem } from './estimate.js';
import { compilePrices, moneyMicroUnits, type ModelPrice } from './prices.js';
import { counterAt, encodePeriod, periodSpec, type PeriodSpec } from './periods.js';
import { RECORD_GRACE_MS, type Admission, type LedgerLine, type LeaseLine, type Level, type Unit } from './admission.js';
import { encodeReservationId, newMember } from './reservation-id.js';

/** Longest root tag body kept as is; longer ones are hashed so the reservation id stays ≤ 128 chars. */
const MAX_TAG_BODY = 75;
const LEVEL_CODE: Record<Level, string> = { subject: 's', team: 't', org: 'o' };

export interface BudgetRoot {
  /** `prefix{body}`; undefined when the root is the subject itself with today's tag. */
  readonly tag: string | undefined;
  /** The hash tag's body (between the braces). */
  readonly body: string;
}

export interface CompiledBudgets {
  readonly config: BudgetsConfig;
  readonly priceOf: (model: string) => ModelPrice;
  /** The check's budget root: decided by identity and config only, never by model, so a subject's buckets never split. */
  root(request: LimitRequest): BudgetRoot;
  /** Lines and leases for this request; undefined when none applies. */
  admission(request: LimitRequest, root: BudgetRoot): Admission | EstimateProblem | undefined;
}

interface CompiledBudget {
  readonly id: string;
  readonly level: Level;
  readonly unit: Unit;
  readonly limit: number;
  readonly shadow: boolean;
  readonly failMode: 'fail_open' | 'fail_closed';
  readonly spec: PeriodSpec;
  readonly models: ((model: string) => boolean) | undefined;
}

const globTest = (globs: readonly string[] | undefined) => (globs === undefined ? undefined : picomatch([...globs], { dot: true, nocase: true }));

export function compileBudgets(config: BudgetsConfig, prefix: string): CompiledBudgets {
  const budgets: CompiledBudget[] = config.budgets.map((b) => ({
    id: b.id, level: b.level, unit: b.unit, limit: b.limit, shadow: b.shadow, failMode: b.on_redis_error, spec: periodSpec(b), models: globTest(b.models),
  }));
  const leases = config.concurrency.map((c) => ({ ...c, matches: globTest(c.models) }));
  const priceOf = compilePrices(config.prices);
  const hasOrg = budgets.some((b) => b.level === 'org');
  const hasTeam = budgets.some((b) => b.level === 'team');
  const entityOf = (r: LimitRequest, level: Level): string | undefined => {
    if (level === 'subject') return r.identity.subject;
    const value = r.identity.attributes[level === 'team' ? config.team_attribute : config.org_attribute];
    return value === undefined || value === '' ? undefined : value;
  };

  const root = (r: LimitRequest): BudgetRoot => {
    const org = hasOrg ? entityOf(r, 'org') : undefined;
    const team = org === undefined && hasTeam ? entityOf(r, 'team') : undefined;
    if (org === undefined && team === undefined) {
      const body = escapeKeyPart(r.identity.subject);
      if (body.length <= MAX_TAG_BODY) return { tag: undefined, body };
      return hashed(prefix, body);
    }
    const body = org !== undefined ? `org:${escapeKeyPart(org)}` : `team:${escapeKeyPart(team!)}`;
    return body.length <= MAX_TAG_BODY ? { tag: `${prefix}{${body}}`, body } : hashed(prefix, body);
  };

  const admission = (r: LimitRequest, at: BudgetRoot): Admission | EstimateProblem | undefined => {
    const tag = at.tag ?? `${prefix}{${at.body}}`;
    const applying: Array<[CompiledBudget, string]> = [];
    let enforced = false;
    for (const b of budgets) {
      if (b.models !== undefined && !b.models(r.model)) continue;
      const entity = entityOf(r, b.level);
      if (entity === undefined) continue;
      applying.push([b, entity]);
      if (!b.shadow) enforced = true;
    }
    const leaseLines: LeaseLine[] = [];
    for (const c of leases) {
      if (c.matches !== undefined && !c.matches(r.model)) continue;
      const who = c.per === 'model' ? `m:${escapeKeyPart(r.model)}` : c.per === 'subject' ? `s:${escapeKeyPart(r.identity.subject)}` : `sm:${escapeKeyPart(r.identity.subject)}:${escapeKeyPart(r.model)}`;
      leaseLines.push({ leaseId: c.id, key: `${tag}:cc:${c.id}:${who}`, max: c.max_in_flight, shadow: c.shadow, failMode: c.on_redis_error });
    }
    if (applying.length === 0 && leaseLines.length === 0) return undefined;

    const price = priceOf(r.model);
    let est = applying.length === 0 ? { inputTokens: 0, outputTokens: 0 } : estimate(r.body(), price, config.estimate);
    if (isEstimateProblem(est)) {
      // Shadow budgets never deny, not even for want of a body: they are skipped instead.
      if (enforced) return est;
      applying.length = 0;
      if (leaseLines.length === 0) return undefined;
      est = { inputTokens: 0, outputTokens: 0 };
    }
    const microUnits = applying.length === 0 ? 0 : moneyMicroUnits(price, est.inputTokens, est.outputTokens);
    const lines: LedgerLine[] = applying.map(([b, entity]) => {
      const base = `${tag}:bg:${b.id}:${LEVEL_CODE[b.level]}:${escapeKeyPart(entity)}`;
      const counter = counterAt(b.spec, r.now);
      return {
        budgetId: b.id, level: b.level, unit: b.unit, limit: b.limit, shadow: b.shadow, failMode: b.failMode, spec: b.spec, base,
        usedKey: `${base}:${counter.suffix}`, reservedKey: `${base}:r`, expiryKey: `${base}:z`,
        slice: counter.slice, usedTtlMs: counter.ttlMs, resetMs: counter.resetMs,
        amount: amountIn(b.unit, est.inputTokens, est.outputTokens, microUnits),
      };
    });
    const ttl = reservationTtl(r, config.reservation_ttl_ms);
    const member = newMember();
    return {
      reservationId: encodeReservationId(at.body, member),
      member,
      recordKey: `${tag}:rsv:${member}`,
      expiresAt: r.now + ttl,
      recordTtlMs: ttl + RECORD_GRACE_MS,
      record: {
        v: 1, model: r.model, price: [price.input, price.output, price.cachedInput], estimate: [est.inputTokens, est.outputTokens], admittedAt: r.now,
        lines: lines.map((l) => [l.base, l.unit, l.amount, encodePeriod(l.spec), l.budgetId, l.level] as const),
        leases: leaseLines.map((l) => l.key),
      },
      lines,
      leases: leaseLines,
      estimate: est,
      microUnits,
      nowMs: r.now,
    };
  };

  return { config, priceOf, root, admission };
}

/** A line's amount in its unit. */
export function amountIn(unit: Unit, inputTokens: number, outputTokens: number, microUnits: number): number {
  switch (unit) {
    case 'tokens':
      return inputTokens + outputTokens;
    case 'input_tokens':
      return inputTokens;
    case 'output_tokens':
      return outputTokens;
    case 'money':
      return microUnits;
  }
}

/** Per route: context extension `reservation_ttl_ms` (a positive integer ≤ 1 day), else the configured TTL. */
function reservationTtl(r: LimitRequest, fallback: number): number {
  const text = r.contextExtensions?.reservation_ttl_ms;
  if (text === undefined) return fallback;
  const ms = Number(text);
  return Number.isSafeInteger(ms) && ms > 0 && ms <= 86_400_000 ? ms : fallback;
}

function hashed(prefix: string, body: string): BudgetRoot {
  const h = `h:${createHash('sha256').update(body).digest('base64url').slice(0, 22)}`;
  return { tag: `${prefix}{${h}}`, body: h };
}
