// The token-bucket algorithm in TypeScript. The in-memory limiter runs it; token-bucket-script.ts
// is the same algorithm in Lua, line for line, and one table of cases tests both.

import type { AdmissionVerdict } from '../budget/admission.js';

/** One bucket to charge in a check. Numbers travel to Lua as strings, so keep them plain. */
export interface BucketCharge {
  readonly key: string;
  readonly capacity: number;
  /** Tokens per period; 0 never refills. */
  readonly rate: number;
  readonly periodMs: number;
  readonly cost: number;
  /** Shadow buckets are charged when they can be but never deny the request. */
  readonly shadow: boolean;
}

/** Exponential temporary blocks after repeated denials; `afterViolations: 0` disables them. */
export interface BlockPolicy {
  readonly afterViolations: number;
  readonly windowMs: number;
  readonly baseMs: number;
  readonly factor: number;
  readonly maxMs: number;
  readonly forgetMs: number;
}

export const NO_BLOCKS: BlockPolicy = { afterViolations: 0, windowMs: 0, baseMs: 0, factor: 1, maxMs: 0, forgetMs: 0 };

export interface TakeArgs {
  readonly block: string;
  readonly strikes: string;
  readonly violations: string;
  readonly charges: readonly BucketCharge[];
  readonly policy: BlockPolicy;
  /** Load factor in [0, 1] that multiplies every refill rate. */
  readonly scale: number;
  /** Keys outlive the moment their bucket is full again by this much (harmless: full = absent). */
  readonly ttlPadMs: number;
  /** Lifetime of keys that would never be full again (rate 0). */
  readonly maxIdleMs: number;
}

/**
 * `allowed`: enforced buckets charged (shadow ones too where they had tokens); `tokens` after.
 * `rate_limited`: nothing charged; `tokens` as they are now. `blocked`: `blockMs` left.
 */
export type TakeResult =
  | {
      readonly status: 'allowed' | 'rate_limited';
      readonly nowMs: number;
      readonly ok: readonly boolean[];
      readonly tokens: readonly number[];
      /** Allowed with budgets or leases: every line's used and reserved after this reservation. */
      readonly admission?: AdmissionVerdict;
    }
  | { readonly status: 'blocked'; readonly nowMs: number; readonly blockMs: number }
  /** The buckets would allow, but a budget or lease refused: nothing was written, no violation counted. */
  | { readonly status: 'refused'; readonly nowMs: number; readonly ok: readonly boolean[]; readonly tokens: readonly number[]; readonly admission: AdmissionVerdict & { readonly ok: false } };

/**
 * Budgets and leases of one check (budget/memory-ledger.ts): decided once the buckets would allow,
 * before any bucket is written; `commit` writes the reservation after the buckets are charged.
 */
export type Admitter = () => { readonly verdict: AdmissionVerdict; readonly commit?: () => AdmissionVerdict };

export interface BucketState {
  readonly tokens: number;
  /** Time of the last refill; never moves backwards, so a clock stepping back grants nothing. */
  readonly at: number;
}

/** Key-value storage with per-key expiry, as Redis offers it. */
export interface TokenStore {
  getBucket(key: string): BucketState | undefined;
  setBucket(key: string, state: BucketState, ttlMs: number): void;
  getNumber(key: string): number | undefined;
  setNumber(key: string, value: number, ttlMs: number): void;
  /** Adds 1; sets the expiry only when the key is new (Redis INCR + PEXPIRE NX). */
  increment(key: string, ttlMsWhenNew: number): number;
  remove(key: string): void;
}

export function refill(state: BucketState | undefined, c: BucketCharge, nowMs: number, scale: number): BucketState {
  if (state === undefined) return { tokens: c.capacity, at: nowMs };
  const elapsed = Math.max(0, nowMs - state.at);
  return { tokens: Math.min(c.capacity, state.tokens + (elapsed * c.rate * scale) / c.periodMs), at: Math.max(state.at, nowMs) };
}

/** Milliseconds until the bucket holds `wanted` tokens; undefined when it never will. */
export function msUntil(tokens: number, wanted: number, c: BucketCharge, scale: number): number | undefined {
  if (tokens >= wanted) return 0;
  if (wanted > c.capacity || c.rate * scale === 0) return undefined;
  return Math.ceil(((wanted - tokens) * c.periodMs) / (c.rate * scale));
}

export function bucketTtlMs(tokens: number, c: BucketCharge, args: TakeArgs): number {
  const full = msUntil(tokens, c.capacity, c, args.scale);
  return full === undefined ? args.maxIdleMs : Math.min(args.maxIdleMs, full + args.ttlPadMs);
}

export function blockDurationMs(strikes: number, p: BlockPolicy): number {
  // Repeated multiplication, not pow(): identical in Lua and V8 to the last bit.
  let ms = p.baseMs;
  for (let i = 2; i <= strikes && ms < p.maxMs; i++) ms = ms * p.factor;
  return Math.floor(Math.min(ms, p.maxMs));
}

export function takeTokens(store: TokenStore, args: TakeArgs, nowMs: number, admit?: Admitter): TakeResult {
  const p = args.policy;
  if (p.afterViolations > 0) {
    const until = store.getNumber(args.block);
    if (until !== undefined && until > nowMs) return { status: 'blocked', nowMs, blockMs: until - nowMs };
  }
  // Plain loops rather than map/some: the same reads, checks and writes in the same order.
  const charges = args.charges;
  const states: BucketState[] = [];
  const ok: boolean[] = [];
  let denied = false;
  for (let i = 0; i < charges.length; i++) {
    const c = charges[i]!;
    const s = refill(store.getBucket(c.key), c, nowMs, args.scale);
    const fits = s.tokens >= c.cost;
    states.push(s);
    ok.push(fits);
    if (!c.shadow && !fits) denied = true;
  }
  if (denied) {
    if (p.afterViolations > 0 && store.increment(args.violations, p.windowMs) >= p.afterViolations) {
      const strikes = store.increment(args.strikes, p.forgetMs);
      store.setNumber(args.strikes, strikes, p.forgetMs);
      const blockMs = blockDurationMs(strikes, p);
      store.setNumber(args.block, nowMs + blockMs, blockMs);
      store.remove(args.violations);
      return { status: 'blocked', nowMs, blockMs };
    }
    return { status: 'rate_limited', nowMs, ok, tokens: states.map((s) => s.tokens) };
  }
  const admitted = admit?.();
  if (admitted !== undefined && !admitted.verdict.ok) {
    return { status: 'refused', nowMs, ok, tokens: states.map((s) => s.tokens), admission: admitted.verdict };
  }
  const tokens: number[] = [];
  for (let i = 0; i < charges.length; i++) {
    const c = charges[i]!;
    const s = states[i]!;
    if (!ok[i]) {
      tokens.push(s.tokens);
      continue;
    }
    const left = s.tokens - c.cost;
    store.setBucket(c.key, { tokens: left, at: s.at }, bucketTtlMs(left, c, args));
    tokens.push(left);
  }
  if (admitted?.commit !== undefined) return { status: 'allowed', nowMs, ok, tokens, admission: admitted.commit() };
  return { status: 'allowed', nowMs, ok, tokens };
}
