// A budget through the pipeline to the proxy's answer, with the real memory ledger: the allowed
// request carries its reservation upstream and in metadata; the exhausted one is a 403 whose body
// and headers say the budget, what remains and when it resets; leases answer 429 with Retry-After;
// no body → body_required. The pipeline passes the limiter's bodyExtra through untouched.

import { describe, expect, it } from 'vitest';
import { budgetsSchema } from '../../../src/budget/config.js';
import { configSchema, policySchema } from '../../../src/config/schema.js';
import { answerBuilder } from '../../../src/decision/answer.js';
import type { Identity } from '../../../src/identity/identity.js';
import type { IdentityResolver } from '../../../src/identity/resolver.js';
import { runCheck, type PipelineStages } from '../../../src/pipeline/check.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { targetResolver } from '../../../src/policy/target.js';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { createLimiter } from '../../../src/ratelimit/create-limiter.js';
import { checkInput, jsonBody } from '../../helpers/check-input.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const alice: Identity = { subject: 'api_key:alice', method: 'api_key', roles: ['user'], attributes: { org: 'acme' } };
const policy = policySchema.parse({
  roles: { user: null },
  rules: [{ id: 'chat', effect: 'allow', roles: ['user'], models: ['*'] }],
  targets: { paths: [{ pattern: '/v1/chat/completions', action: 'chat', model_from_body: 'model' }, { pattern: '/v1/models/{model}:chat', action: 'chat' }] },
});

function stages(budgets: object): PipelineStages {
  const identity: IdentityResolver = { credentialHeaders: ['x-api-key'], resolve: () => ({ ok: true, identity: alice }) };
  const limiter = createLimiter(limitsSchema.parse({}), { budgets: budgetsSchema.parse(budgets) });
  return { identity, target: targetResolver(policy.targets), policy: compilePolicy(policy).policy!, limiter, now: () => NOW };
}

const build = answerBuilder(configSchema.parse({ policy: { roles: {} } }).answer, ['x-api-key'], 503);
const chat = (body: unknown, contextExtensions: Record<string, string> = {}) =>
  checkInput({ path: '/v1/chat/completions', body: body === undefined ? undefined : jsonBody(body), contextExtensions });
const ctx = { decisionId: 'd', requestId: 'req-1' };

describe('budgets in the answer', () => {
  it('allow: reservation upstream (x-modelgate-reservation) and in metadata; exhausted: 403 with remaining and reset', async () => {
    const s = stages({ budgets: [{ id: 'org-day', level: 'org', unit: 'tokens', limit: 250, period: 'day' }] });
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(400) }], max_tokens: 100 };
    const ok = build(await runCheck(chat(body), s), ctx);
    const id = ok.metadata.reservation_id;
    expect(typeof id).toBe('string');
    expect(ok.upstreamHeaders).toContainEqual(['x-modelgate-reservation', id]);
    expect(ok.metadata).toMatchObject({ budget_estimate_tokens: 204, budget_estimate_micro_units: 0, budget_id: 'org-day', budget_remaining: 46 });
    expect(ok.clientHeaders).toEqual([['x-modelgate-budget-remaining', '46'], ['x-modelgate-budget-reset', String(Date.parse('2026-11-29T00:00:00Z') / 1000)]]);

    const denied = build(await runCheck(chat(body), s), ctx);
    expect(denied).toMatchObject({ allowed: false, httpStatus: 403, upstreamHeaders: [] });
    expect(JSON.parse(denied.body)).toEqual({
      budget_id: 'org-day', unit: 'tokens', remaining: 46, reset: Date.parse('2026-11-29T00:00:00Z') / 1000, reset_at: '2026-11-29T00:00:00.000Z',
      error: 'forbidden', reason: 'budget_exhausted', request_id: 'req-1',
    });
    expect(denied.clientHeaders).toContainEqual(['x-modelgate-budget-remaining', '46']);
    expect(denied.metadata).toMatchObject({ reason: 'budget_exhausted', budget_id: 'org-day', budget_level: 'org' });
  });

  it('concurrency: 429 with Retry-After; a route TTL from context_extensions shortens the lease', async () => {
    const s = stages({ concurrency: [{ id: 'one', per: 'subject', max_in_flight: 1 }] });
    // Leases need no body: no budget estimate is made.
    const byPath = (contextExtensions: Record<string, string> = {}) => checkInput({ path: '/v1/models/gpt-4o:chat', contextExtensions });
    expect(build(await runCheck(byPath({ reservation_ttl_ms: '3000' }), s), ctx).allowed).toBe(true);
    const busy = build(await runCheck(byPath(), s), ctx);
    expect(busy).toMatchObject({ allowed: false, httpStatus: 429 });
    expect(busy.clientHeaders).toContainEqual(['retry-after', '3']);
    expect(JSON.parse(busy.body)).toMatchObject({ reason: 'concurrency_limited', concurrency_id: 'one', retry_after: 3 });
  });

  it('no body while a budget applies: body_required (403), never an allow', async () => {
    const s = stages({ budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 250, period: 'day' }] });
    // Envoy cut the body (x-envoy-auth-partial-body: true): a prefix of JSON never prices an allow.
    const partial = await runCheck(checkInput({ path: '/v1/models/gpt-4o:chat', body: { text: '{"messages":[', partial: true } }), s);
    expect(partial).toMatchObject({ allowed: false, reason: 'body_required' });
    expect(build(partial, ctx).httpStatus).toBe(403);
    expect(await runCheck(checkInput({ path: '/v1/models/gpt-4o:chat' }), s)).toMatchObject({ allowed: false, reason: 'body_required' });
    expect(await runCheck(checkInput({ path: '/v1/models/gpt-4o:chat', body: jsonBody({ messages: [], n: 0 }) }), s)).toMatchObject({ allowed: false, reason: 'request_invalid', detail: 'n must be a positive integer' });
  });
});
