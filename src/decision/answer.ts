// Turns a decision into the answer for the proxy: status, headers for upstream and client, deny
// body and access-log metadata. Protocol-neutral; gRPC and HTTP modes encode it.

import type { AnswerConfig } from '../config/schema.js';
import { MetadataKey } from './metadata-keys.js';
import { safeHeaderValue } from './header-value.js';
import type { Decision } from './decision.js';
import { denyBody } from './deny-body.js';
import { REASONS, isAuthenticationFailure, type GrpcCode } from './reasons.js';

export type HeaderList = ReadonlyArray<readonly [string, string]>;

export interface Answer {
  readonly allowed: boolean;
  readonly grpcCode: (typeof GrpcCode)[keyof typeof GrpcCode];
  readonly httpStatus: number;
  /** Allow only: set on the request to the model server, overwriting any client-sent copy. */
  readonly upstreamHeaders: HeaderList;
  /** Allow only: removed from the request before the model server sees it. */
  readonly headersToRemove: readonly string[];
  /** To the client: RateLimit headers on allow; WWW-Authenticate, Retry-After, content-type on deny. */
  readonly clientHeaders: HeaderList;
  readonly body: string;
  readonly metadata: Readonly<Record<string, string | number>>;
}

export interface AnswerContext {
  readonly decisionId: string;
  readonly requestId: string;
}

export interface AnswerBuilder {
  (decision: Decision, ctx: AnswerContext): Answer;
}

export function answerBuilder(config: AnswerConfig, credentialHeaders: readonly string[], errorStatus: number): AnswerBuilder {
  const names = config.upstream_headers;
  const headersToRemove = [
    ...new Set([...(config.strip_credentials ? credentialHeaders : []), ...config.headers_to_remove].map((h) => h.toLowerCase())),
  ];
  // Refused at load with control characters (header-value.ts); quotes would end the quoted string.
  const realm = safeHeaderValue(config.realm.replace(/["\\]/g, ''));
  const reservationHeader = (names.reservation ?? 'x-modelgate-reservation').toLowerCase();
  // An identity or reservation header we do not set this time must not arrive as the client wrote it:
  // one list per combination of the two optional headers, built once.
  const tenantHeader = names.tenant.toLowerCase();
  const removals = [
    [...headersToRemove, tenantHeader, reservationHeader],
    [...headersToRemove, reservationHeader],
    [...headersToRemove, tenantHeader],
    headersToRemove,
  ];

  return (decision, ctx) => {
    const metadata = metadataFor(decision, ctx, config.tenant_attribute);
    const status = REASONS[decision.reason];
    if (decision.allowed && decision.identity) {
      const id = decision.identity;
      // Identity values pass the one header rule here, so gRPC and HTTP mode send the same bytes:
      // config and claims are checked earlier; this catches what nothing else vets (an mTLS SAN).
      const upstream: Array<[string, string]> = [
        [names.subject, safeHeaderValue(id.subject)],
        [names.roles, safeHeaderValue(id.roles.join(','))],
        [names.auth_method, id.method],
        [names.decision_id, ctx.decisionId],
      ];
      const tenant = id.attributes[config.tenant_attribute];
      if (tenant) upstream.push([names.tenant, safeHeaderValue(tenant)]);
      // The budget reservation (docs/budgets.md): set with the identity headers' OVERWRITE, so a client-sent copy never survives.
      const reservation = decision.limit?.metadata.reservation_id;
      const reserved = typeof reservation === 'string';
      if (reserved) upstream.push([reservationHeader, reservation]);
      return {
        allowed: true,
        grpcCode: status.grpc,
        httpStatus: 200,
        upstreamHeaders: upstream,
        headersToRemove: removals[(tenant ? 1 : 0) + (reserved ? 2 : 0)]!,
        clientHeaders: decision.limit?.responseHeaders ?? [],
        body: '',
        metadata,
      };
    }
    const httpStatus = decision.reason === 'internal_error' ? errorStatus : status.http;
    const client: Array<readonly [string, string]> = [['content-type', 'application/json']];
    if (isAuthenticationFailure(decision.reason)) client.push(['www-authenticate', challenge(realm, decision.reason)]);
    if (decision.limit) {
      client.push(...decision.limit.responseHeaders);
      const retry = decision.limit.retryAfterSeconds;
      if (retry !== undefined && !decision.limit.responseHeaders.some(([k]) => k.toLowerCase() === 'retry-after')) {
        client.push(['retry-after', String(retry)]);
      }
    }
    return {
      allowed: false,
      grpcCode: status.grpc,
      httpStatus,
      upstreamHeaders: [],
      headersToRemove: [],
      clientHeaders: client,
      body: denyBody(decision.reason, ctx.requestId, decision.bodyExtra),
      metadata,
    };
  };
}

/** RFC 6750: no error attribute when the request had no credential at all. */
function challenge(realm: string, reason: string): string {
  if (reason === 'no_credential') return `Bearer realm="${realm}"`;
  return `Bearer realm="${realm}", error="invalid_token", error_description="${reason}"`;
}

function metadataFor(decision: Decision, ctx: AnswerContext, tenantAttribute: string): Record<string, string | number> {
  const m: Record<string, string | number> = {
    [MetadataKey.decisionId]: ctx.decisionId,
    [MetadataKey.decision]: decision.allowed ? 'allow' : 'deny',
    [MetadataKey.reason]: decision.reason,
  };
  if (ctx.requestId) m[MetadataKey.requestId] = ctx.requestId;
  const id = decision.identity;
  if (id) {
    m[MetadataKey.subject] = id.subject;
    m[MetadataKey.authMethod] = id.method;
    m[MetadataKey.roles] = id.roles.join(',');
    const tenant = id.attributes[tenantAttribute];
    if (tenant) m[MetadataKey.tenant] = tenant;
  }
  if (decision.model) m[MetadataKey.model] = decision.model;
  if (decision.action) m[MetadataKey.action] = decision.action;
  if (decision.ruleId) m[MetadataKey.ruleId] = decision.ruleId;
  if (decision.shadowRules.length > 0) m[MetadataKey.shadowRules] = decision.shadowRules.join(',');
  if (decision.limit) Object.assign(m, decision.limit.metadata);
  // What the deny body tells the client (an approval id, a budget's reset) is in the access log too;
  // it never replaces a field set above.
  const extra = decision.bodyExtra;
  if (extra) for (const key in extra) if (!(key in m)) m[key] = extra[key]!;
  return m;
}
