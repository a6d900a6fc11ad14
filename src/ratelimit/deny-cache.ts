// Local memory of answers Redis already gave that cannot change before a known time: blocks
// until they end, and empty buckets until they could pass again. Spares Redis during a flood.

import type { Plan, PlannedCharge } from './compile.js';
import { MemoryStore } from './memory-store.js';
import { refill, type TakeResult } from './take-tokens.js';
import type { TokenStore } from './take-tokens.js';

export interface CachedDeny {
  readonly result: TakeResult;
  /** The charges the cached result speaks for (one bucket, or none for a block). */
  readonly charges: readonly PlannedCharge[];
}

/**
 * Safe because other replicas only ever take tokens: the bucket in Redis holds at most what
 * this prediction says (an operator reset or a rising load factor can make it stricter than
 * needed for the rest of the window, never looser). Times are local; only differences are used.
 */
export class DenyCache {
  readonly #store: MemoryStore;

  constructor(maxEntries: number, private readonly cacheBuckets: boolean) {
    this.#store = new MemoryStore(maxEntries);
  }

  /** Learns from a Redis answer received at local time `nowMs`. */
  remember(plan: Plan, result: TakeResult, nowMs: number, scale: number): void {
    const view = this.#store.view(nowMs);
    if (result.status === 'blocked') {
      view.setNumber(plan.keys.block, nowMs + result.blockMs, result.blockMs);
      return;
    }
    // With blocks configured every denial must reach Redis to count as a violation.
    if (result.status !== 'rate_limited' || !this.cacheBuckets) return;
    plan.charges.forEach((c, i) => {
      if (c.shadow || result.ok[i] || c.rate * scale === 0) return;
      const ms = Math.ceil(((c.cost - result.tokens[i]!) * c.periodMs) / (c.rate * scale));
      if (c.cost <= c.capacity && ms > 0) setCached(view, c, result.tokens[i]!, nowMs, scale, ms);
    });
  }

  /** A deny that Redis would certainly give now, or undefined to ask Redis. */
  lookup(plan: Plan, nowMs: number): CachedDeny | undefined {
    const view = this.#store.view(nowMs);
    const until = view.getNumber(plan.keys.block);
    if (until !== undefined && until > nowMs) return { result: { status: 'blocked', nowMs, blockMs: until - nowMs }, charges: [] };
    if (!this.cacheBuckets) return undefined;
    for (const c of plan.charges) {
      if (c.shadow) continue;
      const cached = view.getBucket(cacheKey(c));
      const scale = view.getNumber(`${cacheKey(c)}#scale`);
      if (cached === undefined || scale === undefined) continue;
      const now = refill(cached, c, nowMs, scale);
      if (now.tokens < c.cost) return { result: { status: 'rate_limited', nowMs, ok: [false], tokens: [now.tokens] }, charges: [c] };
    }
    return undefined;
  }

  clear(): void {
    this.#store.clear();
  }
}

/** Cost is not part of the key: a bucket too empty for one cost may serve a cheaper request. */
const cacheKey = (c: PlannedCharge): string => `${c.key}#${c.capacity}/${c.rate}/${c.periodMs}`;

function setCached(view: TokenStore, c: PlannedCharge, tokens: number, nowMs: number, scale: number, ttlMs: number): void {
  view.setBucket(cacheKey(c), { tokens, at: nowMs }, ttlMs);
  view.setNumber(`${cacheKey(c)}#scale`, scale, ttlMs);
}
