// Turns a take's raw result into the port's outcome: allow/deny, Retry-After, client headers, metadata.

import type { LimitOutcome } from './limiter.js';
import { policyItem, type PlannedCharge } from './compile.js';
import { msUntil, type TakeResult } from './take-tokens.js';

export type HeaderStyle = 'ietf' | 'x_ratelimit' | 'none';

export interface ReportOptions {
  readonly headers: HeaderStyle;
  readonly scale: number;
  /** Extra metadata, e.g. `ratelimit_fallback` when a local bucket answered for Redis. */
  readonly extra?: Readonly<Record<string, string | number>>;
}

interface BucketView {
  readonly charge: PlannedCharge;
  readonly remaining: number;
  /** Whole seconds until the bucket is full again. */
  readonly resetSeconds: number;
  /** Whole seconds until this request's cost fits; undefined when it never will. */
  readonly retrySeconds: number | undefined;
}

const seconds = (ms: number): number => Math.ceil(ms / 1000);

function view(charge: PlannedCharge, tokens: number, scale: number): BucketView {
  const full = msUntil(tokens, charge.capacity, charge, scale);
  const retry = msUntil(tokens, charge.cost, charge, scale);
  return {
    charge,
    remaining: Math.max(0, Math.floor(tokens)),
    resetSeconds: full === undefined ? 0 : seconds(full),
    retrySeconds: retry === undefined ? undefined : Math.max(1, seconds(retry)),
  };
}

/** The bucket the client should hear about: the one that denied, else the one with least left. */
function pickTightest(views: readonly BucketView[], denied: boolean): BucketView | undefined {
  const rank = (v: BucketView): number => (denied ? (v.retrySeconds ?? Infinity) : -v.remaining);
  return views.reduce<BucketView | undefined>((best, v) => (best === undefined || rank(v) > rank(best) ? v : best), undefined);
}

function headersFor(style: HeaderStyle, enforced: readonly BucketView[], tightest: BucketView | undefined): [string, string][] {
  if (style === 'none' || tightest === undefined) return [];
  const c = tightest.charge;
  if (style === 'x_ratelimit') {
    return [
      ['x-ratelimit-limit', String(c.capacity)],
      ['x-ratelimit-remaining', String(tightest.remaining)],
      ['x-ratelimit-reset', String(tightest.resetSeconds)],
    ];
  }
  let policy = '';
  for (const { charge } of enforced) policy += `${policy === '' ? '' : ', '}${charge.policyItem ?? policyItem(charge)}`;
  return [
    ['ratelimit-policy', policy],
    ['ratelimit', `"${c.bucketId}";r=${tightest.remaining};t=${tightest.resetSeconds}`],
  ];
}

function metadataFor(tightest: BucketView | undefined, shadowDenied: readonly string[], extra: ReportOptions['extra']) {
  if (extra === undefined && tightest !== undefined && shadowDenied.length === 0) {
    // The common answer, as one literal: the same keys in the same order as below.
    const c = tightest.charge;
    return { ratelimit_bucket: c.bucketId, ratelimit_limit: c.capacity, ratelimit_remaining: tightest.remaining, ratelimit_reset: tightest.resetSeconds, ratelimit_cost: c.cost };
  }
  const metadata: Record<string, string | number> = { ...extra };
  if (tightest !== undefined) {
    metadata.ratelimit_bucket = tightest.charge.bucketId;
    metadata.ratelimit_limit = tightest.charge.capacity;
    metadata.ratelimit_remaining = tightest.remaining;
    metadata.ratelimit_reset = tightest.resetSeconds;
    metadata.ratelimit_cost = tightest.charge.cost;
  }
  if (shadowDenied.length > 0) metadata.ratelimit_shadow_denied = shadowDenied.join(',');
  return metadata;
}

export function toOutcome(result: TakeResult, charges: readonly PlannedCharge[], options: ReportOptions): LimitOutcome {
  if (result.status === 'blocked') {
    const retryAfterSeconds = Math.max(1, seconds(result.blockMs));
    return {
      allowed: false,
      reason: 'temporarily_blocked',
      retryAfterSeconds,
      bodyExtra: { retry_after: retryAfterSeconds, reset_at: isoAfter(result.nowMs, retryAfterSeconds) },
      responseHeaders: [['retry-after', String(retryAfterSeconds)]],
      metadata: { ...options.extra, ratelimit_blocked_seconds: retryAfterSeconds },
      shadowDenied: [],
    };
  }
  if (result.status === 'allowed') return allowedOutcome(result.tokens, result.ok, charges, options);
  const views = charges.map((c, i) => view(c, result.tokens[i]!, options.scale));
  const shadowDenied = charges.filter((c, i) => c.shadow && !result.ok[i]).map((c) => c.bucketId);
  const enforced = views.filter((v) => !v.charge.shadow);
  const denying = views.filter((v, i) => !v.charge.shadow && !result.ok[i]);
  const tightest = pickTightest(denying, true);
  const retryAfterSeconds = denying.some((v) => v.retrySeconds === undefined) ? undefined : tightest?.retrySeconds;
  const headers = headersFor(options.headers, enforced, tightest);
  // Retry-After is plain HTTP 429 semantics, sent whatever the RateLimit header style.
  if (retryAfterSeconds !== undefined) headers.push(['retry-after', String(retryAfterSeconds)]);
  return {
    allowed: false,
    reason: 'rate_limited',
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    ...(tightest === undefined ? {} : { limitId: tightest.charge.bucketId, bodyExtra: denyFields(tightest, retryAfterSeconds, result.nowMs) }),
    responseHeaders: headers,
    metadata: metadataFor(tightest, shadowDenied, options.extra),
    shadowDenied,
  };
}

const isoAfter = (nowMs: number, s: number): string => new Date(nowMs + s * 1000).toISOString();

/** The 429 body's view of the bucket that denied (the same numbers as its RateLimit headers). */
function denyFields(tightest: BucketView, retryAfterSeconds: number | undefined, nowMs: number): Record<string, string | number> {
  const fields: Record<string, string | number> = {
    bucket: tightest.charge.bucketId,
    remaining: tightest.remaining,
    reset_seconds: tightest.resetSeconds,
    reset_at: isoAfter(nowMs, tightest.resetSeconds),
  };
  if (retryAfterSeconds !== undefined) fields.retry_after = retryAfterSeconds;
  return fields;
}

const NO_SHADOW_DENIALS: readonly string[] = Object.freeze([]);

/**
 * The allowed answer without the intermediate arrays: the tightest enforced bucket is the first
 * with the fewest whole tokens left (what pickTightest picks when nothing denied), and its retry
 * time, which an allowed answer never reports, is not computed.
 */
function allowedOutcome(tokens: readonly number[], ok: readonly boolean[], charges: readonly PlannedCharge[], options: ReportOptions): LimitOutcome {
  const enforced: BucketView[] = [];
  let shadowDenied: string[] | undefined;
  let tightestIndex = -1;
  let tightestRemaining = 0;
  for (let i = 0; i < charges.length; i++) {
    const c = charges[i]!;
    if (c.shadow) {
      if (!ok[i]) (shadowDenied ??= []).push(c.bucketId);
      continue;
    }
    const remaining = Math.max(0, Math.floor(tokens[i]!));
    if (tightestIndex < 0 || remaining < tightestRemaining) {
      tightestIndex = i;
      tightestRemaining = remaining;
    }
    enforced.push({ charge: c, remaining, resetSeconds: 0, retrySeconds: undefined });
  }
  let tightest: BucketView | undefined;
  if (tightestIndex >= 0) {
    const c = charges[tightestIndex]!;
    const full = msUntil(tokens[tightestIndex]!, c.capacity, c, options.scale);
    tightest = { charge: c, remaining: tightestRemaining, resetSeconds: full === undefined ? 0 : seconds(full), retrySeconds: undefined };
  }
  const denied = shadowDenied ?? NO_SHADOW_DENIALS;
  return { allowed: true, responseHeaders: headersFor(options.headers, enforced, tightest), metadata: metadataFor(tightest, denied, options.extra), shadowDenied: denied };
}
