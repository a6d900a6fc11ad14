// The answer builder's headers, for the config defaults and an operator's answer section: on allow
// the identity headers overwrite whatever the client sent, credentials and configured headers are
// removed (the tenant header too when there is no tenant to set); on deny the challenge, the limit
// headers and Retry-After go to the client, and the body carries the reason, never the detail.

import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { answerBuilder, type Answer } from '../../../src/decision/answer.js';
import type { Decision } from '../../../src/decision/decision.js';
import { GrpcCode } from '../../../src/decision/reasons.js';
import type { Identity } from '../../../src/identity/identity.js';

const answerConfig = (answer: object = {}) => configSchema.parse({ policy: { roles: {} }, answer }).answer;
const ctx = { decisionId: 'd-1', requestId: 'r-1' };
const alice: Identity = { subject: 'jwt:corp:alice', method: 'jwt', roles: ['reader', 'writer'], attributes: { org: 'acme', tier: 'gold' } };
const allow = (identity: Identity, extra: Partial<Decision> = {}): Decision => ({ allowed: true, reason: 'allowed', identity, model: 'churn', action: 'predict', ruleId: 'readers', shadowRules: [], ...extra });
const deny = (reason: Decision['reason'], extra: Partial<Decision> = {}): Decision => ({ allowed: false, reason, shadowRules: [], ...extra });
const header = (a: Answer, name: string) => a.clientHeaders.filter(([k]) => k === name).map(([, v]) => v);

describe('answerBuilder: allow', () => {
  const build = answerBuilder(answerConfig(), ['authorization', 'X-Api-Key'], 503);

  it('sets the identity headers upstream (an overwrite: the proxy replaces any client copy)', () => {
    const a = build(allow(alice), ctx);
    expect(a).toMatchObject({ allowed: true, grpcCode: GrpcCode.OK, httpStatus: 200, body: '' });
    expect(a.upstreamHeaders).toEqual([
      ['x-modelgate-subject', 'jwt:corp:alice'],
      ['x-modelgate-roles', 'reader,writer'],
      ['x-modelgate-auth-method', 'jwt'],
      ['x-modelgate-decision-id', 'd-1'],
      ['x-modelgate-tenant', 'acme'],
    ]);
  });

  it('removes the credential headers, lower-cased, and keeps the tenant header it sets', () => {
    // No budget reserved anything: a client-sent reservation header is removed like an identity header.
    expect(build(allow(alice), ctx).headersToRemove).toEqual(['authorization', 'x-api-key', 'x-modelgate-reservation']);
  });

  it('sets the reservation header when a budget reserved, and then does not remove it', () => {
    const reserved = { ...allow(alice), limit: { responseHeaders: [], metadata: { reservation_id: 'r-1' }, shadowDenied: [] } };
    const a = build(reserved, ctx);
    expect(a.upstreamHeaders).toContainEqual(['x-modelgate-reservation', 'r-1']);
    expect(a.headersToRemove).toEqual(['authorization', 'x-api-key']);
  });

  it('removes the tenant header when the identity has no tenant, so a client-sent one never arrives', () => {
    const a = build(allow({ ...alice, attributes: {} }), ctx);
    expect(a.upstreamHeaders.map(([k]) => k)).not.toContain('x-modelgate-tenant');
    expect(a.headersToRemove).toEqual(['authorization', 'x-api-key', 'x-modelgate-tenant', 'x-modelgate-reservation']);
  });

  it('follows the answer section: header names, tenant attribute, headers_to_remove, strip_credentials', () => {
    const custom = answerBuilder(
      answerConfig({ upstream_headers: { subject: 'X-User', tenant: 'X-Tenant' }, tenant_attribute: 'tier', headers_to_remove: ['Cookie', 'x-debug'], strip_credentials: false }),
      ['authorization'],
      503,
    );
    const a = custom(allow(alice), ctx);
    expect(a.upstreamHeaders).toContainEqual(['X-User', 'jwt:corp:alice']);
    expect(a.upstreamHeaders).toContainEqual(['X-Tenant', 'gold']);
    expect(a.headersToRemove).toEqual(['cookie', 'x-debug', 'x-modelgate-reservation']);
    expect(custom(allow({ ...alice, attributes: {} }), ctx).headersToRemove).toEqual(['cookie', 'x-debug', 'x-tenant', 'x-modelgate-reservation']);
  });

  it('escapes a value no header may carry (a SAN with a newline) instead of sending it', () => {
    const a = build(allow({ ...alice, subject: 'mtls:evil\r\nx-admin: 1', method: 'mtls' }), ctx);
    expect(a.upstreamHeaders[0]).toEqual(['x-modelgate-subject', 'mtls:evil\\u000d\\u000ax-admin: 1']);
  });

  it('passes the limiter headers to the client and its metadata to the access log', () => {
    const limit = { responseHeaders: [['ratelimit-remaining', '4']] as const, metadata: { ratelimit_remaining: 4 }, shadowDenied: [] };
    const a = build(allow(alice, { limit, shadowRules: ['watch', 'audit'] }), ctx);
    expect(a.clientHeaders).toEqual([['ratelimit-remaining', '4']]);
    expect(a.metadata).toMatchObject({ decision: 'allow', reason: 'allowed', tenant: 'acme', rule_id: 'readers', shadow_rules: 'watch,audit', ratelimit_remaining: 4, request_id: 'r-1', decision_id: 'd-1' });
  });
});

describe('answerBuilder: deny', () => {
  const build = answerBuilder(answerConfig({ realm: 'models "prod"' }), ['authorization'], 500);

  it('challenges a missing credential without an error attribute (RFC 6750)', () => {
    const a = build(deny('no_credential'), ctx);
    expect(a).toMatchObject({ allowed: false, httpStatus: 401, grpcCode: GrpcCode.UNAUTHENTICATED, upstreamHeaders: [], headersToRemove: [] });
    // Quotes in the realm would end the quoted string: dropped.
    expect(header(a, 'www-authenticate')).toEqual(['Bearer realm="models prod"']);
    expect(header(a, 'content-type')).toEqual(['application/json']);
  });

  it('challenges a bad credential with invalid_token and the reason', () => {
    const a = build(deny('token_expired', { detail: 'exp 2026-01-01' }), ctx);
    expect(header(a, 'www-authenticate')).toEqual(['Bearer realm="models prod", error="invalid_token", error_description="token_expired"']);
    expect(JSON.parse(a.body)).toEqual({ error: 'unauthenticated', reason: 'token_expired', request_id: 'r-1' });
    expect(a.body).not.toContain('2026');
  });

  it('sends no challenge for a deny that is not about authentication', () => {
    const a = build(deny('no_matching_rule', { identity: alice }), ctx);
    expect(a.httpStatus).toBe(403);
    expect(header(a, 'www-authenticate')).toEqual([]);
    expect(a.metadata).toMatchObject({ decision: 'deny', reason: 'no_matching_rule', subject: 'jwt:corp:alice' });
  });

  it('adds Retry-After from the limiter outcome, once, and keeps the limiter headers', () => {
    const limit = { responseHeaders: [['ratelimit-remaining', '0']] as const, metadata: {}, shadowDenied: [], retryAfterSeconds: 12 };
    const a = build(deny('rate_limited', { identity: alice, limit }), ctx);
    expect(a).toMatchObject({ httpStatus: 429, grpcCode: GrpcCode.RESOURCE_EXHAUSTED });
    expect(header(a, 'retry-after')).toEqual(['12']);
    expect(header(a, 'ratelimit-remaining')).toEqual(['0']);
    const already = { ...limit, responseHeaders: [['Retry-After', '30']] as const };
    const b = build(deny('rate_limited', { identity: alice, limit: already }), ctx);
    expect(b.clientHeaders.filter(([k]) => k.toLowerCase() === 'retry-after')).toEqual([['Retry-After', '30']]);
  });

  it('answers internal_error with the configured status and a 503 for a backend that is down', () => {
    expect(build(deny('internal_error'), ctx)).toMatchObject({ httpStatus: 500, grpcCode: GrpcCode.UNAVAILABLE });
    expect(build(deny('limiter_unavailable'), ctx)).toMatchObject({ httpStatus: 503, grpcCode: GrpcCode.UNAVAILABLE });
  });
});
