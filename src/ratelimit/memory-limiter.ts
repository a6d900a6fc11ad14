// The embedded limiter: token buckets in this process's memory. Correct for one replica only;
// several replicas each keep their own buckets, so the effective limit multiplies.

import type { Limiter, LimitOutcome, LimitRequest } from './limiter.js';
import type { CompiledLimits, Plan } from './compile.js';
import { MemoryStore } from './memory-store.js';
import { toOutcome, type ReportOptions } from './report.js';
import { takeTokens, type TakeArgs, type TakeResult } from './take-tokens.js';
import { baseOf } from './keys.js';
import { MemoryLedger } from '../budget/memory-ledger.js';
import { MemorySettler } from '../budget/settle.js';
import { admissionOutcome, problemOutcome } from '../budget/outcome.js';
import { isEstimateProblem } from '../budget/estimate.js';
import type { BudgetEvents } from '../budget/events.js';

/** No padding: unlike Redis keys, these expire on the very clock that computed their lifetime. */
const TTL_PAD_MS = 0;

/** A take refused for want of room: a fail_closed bucket could not be stored. */
export const MEMORY_FULL = 'memory_full';

/**
 * A take's result; wrapped as `untracked` when the store had no room for some new buckets and they
 * passed without being charged (the rare case: the common one allocates no wrapper).
 */
export type MemoryTake = TakeResult | { readonly untracked: TakeResult } | typeof MEMORY_FULL;

/**
 * Runs takes against a bounded MemoryStore; shared by the embedded limiter and Redis's fallback.
 * The store forgets only buckets that are full again, never one still refilling, so an exhausted
 * caller cannot get a fresh bucket by making the limiter see many other subjects.
 */
export class MemoryTokens {
  readonly #store: MemoryStore;
  /** Budget lines and leases of the checks this memory answers (the embedded ledger or Redis's fallback). */
  readonly ledger = new MemoryLedger();

  constructor(private readonly compiled: CompiledLimits) {
    this.#store = new MemoryStore(compiled.config.memory_max_entries, 'lossless');
  }

  get entries(): number {
    return this.#store.size;
  }

  /**
   * With no room for a caller's new buckets, each new bucket's fail mode answers: fail_closed →
   * MEMORY_FULL; fail_open → the take runs with new buckets left unstored (they pass uncharged)
   * while every stored bucket and block still counts, so a full store never spares a deny.
   * Block state (violations, strikes, block) is always written, a little past the bound if need be.
   */
  take(plan: Plan, nowMs: number, scale: number): MemoryTake {
    const charges = plan.charges;
    let untracked = false;
    if (this.#store.size + charges.length > this.#store.maxEntries && !this.#store.admit(charges.map((c) => c.key), nowMs)) {
      for (const c of charges) {
        if (!c.shadow && c.failMode === 'fail_closed' && this.#store.live(c.key, nowMs) === undefined) return MEMORY_FULL;
      }
      untracked = true;
    }
    const keys = plan.keys;
    const args: TakeArgs = {
      block: keys.block,
      strikes: keys.strikes,
      violations: keys.violations,
      charges,
      policy: this.compiled.policy,
      scale,
      ttlPadMs: TTL_PAD_MS,
      maxIdleMs: this.compiled.config.redis.max_idle_seconds * 1000,
    };
    const admission = plan.admission;
    const admit = admission === undefined || isEstimateProblem(admission) ? undefined : this.ledger.admitter(admission);
    if (!untracked) return takeTokens(this.#store.view(nowMs), args, nowMs, admit);
    this.#store.bucketsFrozen = true;
    try {
      return { untracked: takeTokens(this.#store.view(nowMs), args, nowMs, admit) };
    } finally {
      this.#store.bucketsFrozen = false;
    }
  }

  /** A subject's buckets and block, under `{subject}` or under a budget root tag. */
  reset(subject: string): number {
    const prefix = this.compiled.config.redis.key_prefix;
    return this.#store.removeMatching((key) => baseOf(prefix, subject, key) !== undefined);
  }

  clear(): void {
    this.#store.clear();
    this.ledger.clear();
  }
}

export class MemoryLimiter implements Limiter {
  readonly #tokens: MemoryTokens;
  readonly #report: ReportOptions;
  readonly settler: MemorySettler | undefined;

  constructor(private readonly compiled: CompiledLimits, private readonly events: BudgetEvents = {}) {
    this.#tokens = new MemoryTokens(compiled);
    this.#report = { headers: compiled.config.headers, scale: 1 };
    this.settler = compiled.budgets === undefined ? undefined : new MemorySettler(this.#tokens.ledger, compiled.config.redis.key_prefix, events);
  }

  take(request: LimitRequest): Promise<LimitOutcome> {
    const plan = this.compiled.plan(request);
    const admission = plan.admission;
    if (admission !== undefined && isEstimateProblem(admission)) return Promise.resolve(problemOutcome(admission));
    if (plan.charges.length === 0 && admission === undefined) return Promise.resolve({ allowed: true, responseHeaders: [], metadata: {}, shadowDenied: [] });
    return Promise.resolve(memoryOutcome(this.#tokens.take(plan, request.now, 1), plan, this.#report, this.events));
  }

  /** Forgets every bucket and block of one subject (operator reset). */
  reset(subject: string): Promise<number> {
    return Promise.resolve(this.#tokens.reset(subject));
  }

  ready(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.#tokens.clear();
    return Promise.resolve();
  }
}

const FULL_CLOSED: LimitOutcome = Object.freeze({
  allowed: false,
  reason: 'limiter_unavailable',
  responseHeaders: [],
  metadata: Object.freeze({ ratelimit_error: MEMORY_FULL }),
  shadowDenied: [],
});

/**
 * The outcome of a memory take. A full store says so in the metadata and the decision log:
 * `ratelimit_error: memory_full` (limiter_unavailable for fail_closed, else alongside the answer).
 */
export function memoryOutcome(taken: MemoryTake, plan: Plan, options: ReportOptions, events?: BudgetEvents): LimitOutcome {
  if (taken === MEMORY_FULL) return options.extra === undefined ? FULL_CLOSED : { ...FULL_CLOSED, metadata: { ...options.extra, ratelimit_error: MEMORY_FULL } };
  const result = 'untracked' in taken ? taken.untracked : taken;
  const report = 'untracked' in taken ? { ...options, extra: { ...options.extra, ratelimit_error: MEMORY_FULL } } : options;
  const admission = plan.admission;
  if (admission !== undefined && !isEstimateProblem(admission)) return admissionOutcome(result, plan.charges, admission, report, events);
  return toOutcome(result, plan.charges, report);
}
