// Stable reason codes for every decision, and the one table that maps them to gRPC and HTTP status.

/** gRPC status codes used in CheckResponse.status (google.rpc.Code). */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * Every outcome of a check has one of these codes. They double as metric labels, log fields
 * and the `reason` in deny bodies, so they never change meaning once released.
 */
export const REASONS = {
  allowed: { http: 200, grpc: GrpcCode.OK, error: '' },
  // 400: the request itself is unusable
  request_invalid: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT, error: 'bad_request' },
  path_invalid: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT, error: 'bad_request' },
  /** A model or action name (from the body or context_extensions) outside `policy.targets.names`. */
  target_invalid: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT, error: 'bad_request' },
  /** An input rule (guardrails.input) refused the request body; the deny body names the rule. */
  input_rejected: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT, error: 'bad_request' },
  // 401: who is calling is unknown or unproven
  no_credential: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_malformed: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_algorithm_not_allowed: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_signature_invalid: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_key_unknown: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_expired: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_not_yet_valid: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_issuer_unknown: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_audience_invalid: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  token_claims_invalid: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  api_key_invalid: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  api_key_expired: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  api_key_disabled: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  certificate_invalid: { http: 401, grpc: GrpcCode.UNAUTHENTICATED, error: 'unauthenticated' },
  // 403: known caller, not allowed
  target_unknown: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, error: 'forbidden' },
  denied_by_rule: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, error: 'forbidden' },
  no_matching_rule: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, error: 'forbidden' },
  body_required: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, error: 'forbidden' },
  condition_error: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, error: 'forbidden' },
  budget_exhausted: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, error: 'forbidden' },
  approval_required: { http: 403, grpc: GrpcCode.PERMISSION_DENIED, error: 'forbidden' },
  // 429: known and allowed, but over budget
  rate_limited: { http: 429, grpc: GrpcCode.RESOURCE_EXHAUSTED, error: 'rate_limited' },
  temporarily_blocked: { http: 429, grpc: GrpcCode.RESOURCE_EXHAUSTED, error: 'rate_limited' },
  concurrency_limited: { http: 429, grpc: GrpcCode.RESOURCE_EXHAUSTED, error: 'rate_limited' },
  // 503: our side failed; never an allow
  identity_backend_unavailable: { http: 503, grpc: GrpcCode.UNAVAILABLE, error: 'unavailable' },
  limiter_unavailable: { http: 503, grpc: GrpcCode.UNAVAILABLE, error: 'unavailable' },
  internal_error: { http: 503, grpc: GrpcCode.UNAVAILABLE, error: 'unavailable' },
} as const satisfies Record<string, { http: number; grpc: number; error: string }>;

export type ReasonCode = keyof typeof REASONS;
export type DenyReason = Exclude<ReasonCode, 'allowed'>;

/** Reasons that are answered with a `WWW-Authenticate` challenge. */
export function isAuthenticationFailure(reason: ReasonCode): boolean {
  return REASONS[reason].http === 401;
}

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[];
