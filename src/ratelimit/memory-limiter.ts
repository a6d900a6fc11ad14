// The embedded limiter: token buckets in this process's memory. Correct for one replica only;
// several replicas each keep their own buckets, so the effective limit multiplies.

import type { Limiter, LimitOutcome, LimitRequest } from './limiter.js';
import type { CompiledLimits, Plan } from './compile.js';
import { MemoryStore } from './memory-store.js';
import { toOutcome, type ReportOptions } from './report.js';
import { takeTokens, type TakeArgs, type TakeResult } from './take-tokens.js';
import { subjectTag } from './keys.js';

/** No padding: unlike Redis keys, these expire on the very clock that computed their lifetime. */
const TTL_PAD_MS = 0;

/** Runs takes against a bounded MemoryStore; shared by the embedded limiter and Redis's fallback. */
export class MemoryTokens {
  readonly #store: MemoryStore;

  constructor(private readonly compiled: CompiledLimits) {
    this.#store = new MemoryStore(compiled.config.memory_max_entries);
  }

  get entries(): number {
    return this.#store.size;
  }

  take(plan: Plan, nowMs: number, scale: number): TakeResult {
    const keys = plan.keys;
    const args: TakeArgs = {
      block: keys.block,
      strikes: keys.strikes,
      violations: keys.violations,
      charges: plan.charges,
      policy: this.compiled.policy,
      scale,
      ttlPadMs: TTL_PAD_MS,
      maxIdleMs: this.compiled.config.redis.max_idle_seconds * 1000,
    };
    return takeTokens(this.#store.view(nowMs), args, nowMs);
  }

  reset(subject: string): number {
    return this.#store.removePrefix(`${subjectTag(this.compiled.config.redis.key_prefix, subject)}:`);
  }

  clear(): void {
    this.#store.clear();
  }
}

export class MemoryLimiter implements Limiter {
  readonly #tokens: MemoryTokens;
  readonly #report: ReportOptions;

  constructor(private readonly compiled: CompiledLimits) {
    this.#tokens = new MemoryTokens(compiled);
    this.#report = { headers: compiled.config.headers, scale: 1 };
  }

  take(request: LimitRequest): Promise<LimitOutcome> {
    const plan = this.compiled.plan(request);
    if (plan.charges.length === 0) return Promise.resolve({ allowed: true, responseHeaders: [], metadata: {}, shadowDenied: [] });
    const result = this.#tokens.take(plan, request.now, 1);
    return Promise.resolve(toOutcome(result, plan.charges, this.#report));
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
