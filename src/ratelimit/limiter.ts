// The limiter port: the only thing the Check pipeline knows about rate limiting.

import type { Identity } from '../identity/identity.js';
import type { BudgetSettler } from '../budget/settler-port.js';

/** What the pipeline hands the limiter for one authorized request. */
export interface LimitRequest {
  readonly identity: Identity;
  readonly model: string;
  readonly action: string;
  /** Envoy's x-request-id. No limiter reads it yet: it is the key a later reserve/settle would use. */
  readonly requestId: string;
  /**
   * The request body parsed as JSON when Envoy sent it complete, else undefined. Read only
   * when a limit's cost needs it (e.g. `max_tokens`); never stored.
   */
  readonly body: () => unknown;
  /** Epoch milliseconds from the pipeline's injected clock. */
  readonly now: number;
  /** Envoy's per-route context extensions (budgets read `reservation_ttl_ms`). */
  readonly contextExtensions?: Readonly<Record<string, string>>;
}

/** Headers and metadata that describe the remaining budget, on allow and on deny alike. */
export interface LimitReport {
  /** Headers for the client (RateLimit / X-RateLimit-*, Retry-After on deny). */
  readonly responseHeaders: ReadonlyArray<readonly [string, string]>;
  /** Flat values for Envoy's dynamic metadata and the decision log (e.g. ratelimit_remaining). */
  readonly metadata: Readonly<Record<string, string | number>>;
  /** Ids of limits in shadow mode that would have denied this request. */
  readonly shadowDenied: readonly string[];
}

export type LimitOutcome =
  | ({ readonly allowed: true } & LimitReport)
  | ({
      readonly allowed: false;
      readonly reason:
        | 'rate_limited'
        | 'temporarily_blocked'
        | 'limiter_unavailable'
        /** A budget (tokens or money) has no room for this request's estimate (403). */
        | 'budget_exhausted'
        /** Too many of this caller's requests are in flight (429). */
        | 'concurrency_limited'
        /** A budget applies but the body is absent, partial or not JSON: no estimate (403). */
        | 'body_required'
        /** A budget applies and the body's max_tokens / n is not a positive integer (400). */
        | 'request_invalid';
      /** Whole seconds until a retry can succeed; absent for limiter_unavailable. */
      readonly retryAfterSeconds?: number;
      /** The limit that denied, for the decision log and metadata. */
      readonly limitId?: string;
      /** Fields for the deny body (budget remaining and reset): Decision.bodyExtra. */
      readonly bodyExtra?: Readonly<Record<string, string | number>>;
      /** Internal detail for the decision log. */
      readonly detail?: string;
    } & LimitReport);

/**
 * Charges every bucket that applies to a request, all or none.
 *
 * Contract: resolves with `allowed: false` for over-limit and for a backend failure whose
 * configured mode is fail-closed; never rejects for those. It rejects only on bugs, which the
 * pipeline turns into its configured error answer. Implementations answer within their own
 * timeout so a slow backend never holds a check past Envoy's budget.
 */
export interface Limiter {
  take(request: LimitRequest): Promise<LimitOutcome>;
  /** Ready for traffic (e.g. Redis reachable), for /readyz. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
  /**
   * Optional: forgets every bucket and block of one subject (the operator's
   * `modelgate limits reset`). Resolves with how many stored entries were removed.
   */
  reset?(subject: string): Promise<number>;
  /** Settles budget reservations on the same ledger; present when budgets or leases are configured. */
  readonly settler?: BudgetSettler | undefined;
}

const NO_REPORT = { responseHeaders: [], metadata: {}, shadowDenied: [] } as const;

/** The embedded default until limits are configured: every request passes, nothing is counted. */
export const unlimited: Limiter = {
  take: () => Promise.resolve({ allowed: true, ...NO_REPORT }),
  ready: () => Promise.resolve(true),
  close: () => Promise.resolve(),
};
