// The table of token-bucket cases that the in-memory algorithm and the Lua script must both pass,
// step by step, with identical raw results (token counts compared to the last bit).

export interface CaseStep {
  /** Injected clock, epoch ms. */
  readonly at: number;
  readonly cost?: number;
  /** Load factor for this step; 1 when absent. */
  readonly scale?: number;
  readonly expect: {
    readonly allowed: boolean;
    readonly reason?: 'rate_limited' | 'temporarily_blocked';
    /** null: no Retry-After, the request can never pass. */
    readonly retryAfter?: number | null;
    readonly remaining?: number;
    readonly bucket?: string;
    readonly shadowDenied?: readonly string[];
  };
}

export interface BucketCase {
  readonly name: string;
  /** The `limits` section (buckets price by the body field `cost`, default 1). */
  readonly limits: Record<string, unknown>;
  readonly steps: readonly CaseStep[];
}

const T = 1_700_000_000_000;
const bucket = (id: string, rate: number, per: string, burst: number, extra: Record<string, unknown> = {}) => ({
  id,
  rate,
  per,
  burst,
  cost: { body_field: 'cost', default: 1 },
  ...extra,
});

export const CASES: readonly BucketCase[] = [
  {
    name: 'burst: a full bucket serves exactly its capacity, then says when one token is back',
    limits: { buckets: [bucket('b', 1, 'second', 3)] },
    steps: [
      { at: T, expect: { allowed: true, remaining: 2 } },
      { at: T, expect: { allowed: true, remaining: 1 } },
      { at: T, expect: { allowed: true, remaining: 0 } },
      { at: T, expect: { allowed: false, reason: 'rate_limited', retryAfter: 1, remaining: 0, bucket: 'b' } },
      { at: T + 999, expect: { allowed: false, reason: 'rate_limited', retryAfter: 1 } },
      { at: T + 1000, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'refill: tokens come back continuously at the configured rate, capped at burst',
    limits: { buckets: [bucket('b', 10, 'second', 10)] },
    steps: [
      { at: T, cost: 10, expect: { allowed: true, remaining: 0 } },
      { at: T + 50, expect: { allowed: false, retryAfter: 1 } },
      { at: T + 100, expect: { allowed: true, remaining: 0 } },
      { at: T + 1_000, expect: { allowed: true, remaining: 8 } },
      { at: T + 3_600_000, expect: { allowed: true, remaining: 9 } },
    ],
  },
  {
    name: 'multi-bucket: allowed only when every bucket has tokens; a deny charges none of them',
    limits: { buckets: [bucket('per-second', 20, 'second', 2), bucket('per-minute', 120, 'minute', 3)] },
    steps: [
      { at: T, expect: { allowed: true, remaining: 1 } },
      { at: T, expect: { allowed: true, remaining: 0 } },
      // per-second is empty; per-minute (1 left) must not be charged by this deny
      { at: T, expect: { allowed: false, bucket: 'per-second', retryAfter: 1 } },
      // 100 ms: per-second +2, per-minute +0.2 → 1.2: allowed only because the deny took nothing
      { at: T + 100, expect: { allowed: true, remaining: 0, bucket: 'per-minute' } },
      // per-minute 0.2 needs 0.8 more at 2/s → 400 ms → Retry-After 1
      { at: T + 100, expect: { allowed: false, bucket: 'per-minute', retryAfter: 1 } },
      { at: T + 600, expect: { allowed: true } },
    ],
  },
  {
    name: 'cost > capacity: denied without Retry-After and without charging anything',
    limits: { buckets: [bucket('b', 1, 'second', 5)] },
    steps: [
      { at: T, cost: 6, expect: { allowed: false, reason: 'rate_limited', retryAfter: null } },
      { at: T, cost: 5, expect: { allowed: true, remaining: 0 } },
      { at: T, cost: 0, expect: { allowed: true, remaining: 0 } },
      { at: T + 2_500, cost: 3, expect: { allowed: false, retryAfter: 1 } },
      { at: T + 2_500, cost: 2, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'clock going backwards grants nothing and breaks nothing',
    limits: { buckets: [bucket('b', 1, 'second', 2)] },
    steps: [
      { at: T + 10_000, cost: 2, expect: { allowed: true, remaining: 0 } },
      { at: T + 5_000, expect: { allowed: false, retryAfter: 1 } },
      { at: T, expect: { allowed: false, retryAfter: 1 } },
      { at: T + 10_500, expect: { allowed: false, retryAfter: 1 } },
      { at: T + 11_000, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'very large rate and burst keep exact arithmetic',
    limits: { buckets: [bucket('b', 1e9, 'second', 1e9)] },
    steps: [
      { at: T, cost: 1e9, expect: { allowed: true, remaining: 0 } },
      { at: T + 1, cost: 1e6, expect: { allowed: true, remaining: 0 } },
      { at: T + 1, cost: 1, expect: { allowed: false, retryAfter: 1 } },
      { at: T + 10_000, expect: { allowed: true, remaining: 1e9 - 1 } },
    ],
  },
  {
    name: 'zero rate: the burst is all there is, and no Retry-After is promised',
    limits: { buckets: [bucket('b', 0, 'hour', 2)] },
    steps: [
      { at: T, expect: { allowed: true, remaining: 1 } },
      { at: T, expect: { allowed: true, remaining: 0 } },
      { at: T, expect: { allowed: false, retryAfter: null } },
      { at: T + 3_600_000, expect: { allowed: false, retryAfter: null } },
    ],
  },
  {
    name: 'zero rate and zero burst deny everything',
    limits: { buckets: [bucket('closed', 0, 'second', 0)] },
    steps: [
      { at: T, expect: { allowed: false, retryAfter: null, bucket: 'closed' } },
      { at: T, cost: 0, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'fractional rates and costs round the same way in both',
    limits: { buckets: [bucket('odd', 7, 'minute', 3)] },
    steps: [
      { at: T, cost: 0.3, expect: { allowed: true, remaining: 2 } },
      { at: T + 1_234, cost: 2.6, expect: { allowed: true, remaining: 0 } },
      { at: T + 5_678, cost: 0.7, expect: { allowed: true, remaining: 0 } },
      { at: T + 9_999, cost: 1.1, expect: { allowed: false, retryAfter: 5 } },
      { at: T + 17_000, cost: 1.1, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'load factor scales refill down',
    limits: { buckets: [bucket('b', 10, 'second', 10)] },
    steps: [
      { at: T, cost: 10, scale: 0.5, expect: { allowed: true, remaining: 0 } },
      { at: T + 100, scale: 0.5, expect: { allowed: false, retryAfter: 1 } },
      { at: T + 200, scale: 0.5, expect: { allowed: true, remaining: 0 } },
      { at: T + 300, scale: 1, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'shadow bucket reports but never denies, and is charged only when it can be',
    limits: { buckets: [bucket('real', 10, 'second', 100), bucket('trial', 1, 'second', 1, { shadow: true })] },
    steps: [
      { at: T, expect: { allowed: true, remaining: 99, bucket: 'real', shadowDenied: [] } },
      { at: T, expect: { allowed: true, remaining: 98, shadowDenied: ['trial'] } },
      { at: T + 1_000, expect: { allowed: true, shadowDenied: [] } },
    ],
  },
  {
    name: 'repeated violations block the subject for base × factor^n, capped',
    limits: {
      buckets: [bucket('b', 1, 'second', 1)],
      block: { after_violations: 2, window_seconds: 30, base_seconds: 2, factor: 3, max_seconds: 10 },
    },
    steps: [
      { at: T, expect: { allowed: true } },
      { at: T, expect: { allowed: false, reason: 'rate_limited', retryAfter: 1 } },
      { at: T, expect: { allowed: false, reason: 'temporarily_blocked', retryAfter: 2 } },
      { at: T + 1_500, expect: { allowed: false, reason: 'temporarily_blocked', retryAfter: 1 } },
      { at: T + 2_000, expect: { allowed: true } },
      { at: T + 2_000, expect: { allowed: false, reason: 'rate_limited' } },
      { at: T + 2_000, expect: { allowed: false, reason: 'temporarily_blocked', retryAfter: 6 } },
      { at: T + 8_000, expect: { allowed: true } },
      { at: T + 8_000, expect: { allowed: false, reason: 'rate_limited' } },
      { at: T + 8_000, expect: { allowed: false, reason: 'temporarily_blocked', retryAfter: 10 } },
    ],
  },
];
