// runCheck phase by phase, with a fake identity resolver and a fake limiter (ports, not our parts
// under test) around the real target resolver and compiled policy: each phase's deny carries its
// own reason code and stops the phases after it.

import { describe, expect, it } from 'vitest';
import type { CheckInput } from '../../../src/check/check-input.js';
import type { CheckTrace } from '../../../src/check/trace.js';
import { policySchema } from '../../../src/config/schema.js';
import type { Identity } from '../../../src/identity/identity.js';
import type { IdentityResolver } from '../../../src/identity/resolver.js';
import { identityDenied, type IdentityResult } from '../../../src/identity/result.js';
import { runCheck, type PipelineStages } from '../../../src/pipeline/check.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { targetResolver } from '../../../src/policy/target.js';
import type { Limiter, LimitOutcome, LimitRequest } from '../../../src/ratelimit/limiter.js';
import { checkInput, jsonBody } from '../../helpers/check-input.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const alice: Identity = { subject: 'api_key:alice', method: 'api_key', roles: ['reader'], attributes: {} };

const config = policySchema.parse({
  roles: { reader: null },
  rules: [
    { id: 'readers', effect: 'allow', roles: ['reader'], models: ['churn'] },
    { id: 'watch', effect: 'allow', models: ['churn'], shadow: true },
  ],
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', methods: ['POST'], action: 'predict' }, { pattern: '/v1/chat', action: 'chat', model_from_body: 'model' }] },
});

interface Fakes {
  readonly identityCalls: Array<[CheckInput, number]>;
  readonly takes: LimitRequest[];
  readonly stages: PipelineStages;
}

function fakes(identity: IdentityResult | Promise<IdentityResult>, limit: LimitOutcome = { allowed: true, responseHeaders: [], metadata: {}, shadowDenied: [] }): Fakes {
  const identityCalls: Array<[CheckInput, number]> = [];
  const takes: LimitRequest[] = [];
  const resolver: IdentityResolver = {
    credentialHeaders: ['x-api-key'],
    resolve: (input, nowMs) => {
      identityCalls.push([input, nowMs]);
      return identity;
    },
  };
  const limiter: Limiter = {
    take: (request) => {
      takes.push(request);
      return Promise.resolve(limit);
    },
    ready: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
  const policy = compilePolicy(config).policy!;
  return { identityCalls, takes, stages: { identity: resolver, target: targetResolver(config.targets), policy, limiter, now: () => NOW } };
}

const allowed = { ok: true, identity: alice } as const;

describe('runCheck', () => {
  it('1. identity: a deny passes its reason and detail through, and nothing later runs', async () => {
    const f = fakes(identityDenied('api_key_expired', 'expired 2026-02-01'));
    const decision = await runCheck(checkInput(), f.stages);
    expect(decision).toEqual({ allowed: false, reason: 'api_key_expired', detail: 'expired 2026-02-01', shadowRules: [] });
    expect(f.identityCalls).toHaveLength(1);
    expect(f.identityCalls[0]![1]).toBe(NOW);
    expect(f.takes).toEqual([]);
  });

  it('1. identity: an async resolver is awaited', async () => {
    const f = fakes(Promise.resolve(identityDenied('identity_backend_unavailable')));
    expect(await runCheck(checkInput(), f.stages)).toMatchObject({ allowed: false, reason: 'identity_backend_unavailable' });
  });

  it('2. target: an unknown route is target_unknown, a bad path path_invalid, a bad body model target_invalid', async () => {
    const f = fakes(allowed);
    expect(await runCheck(checkInput({ path: '/v2/other' }), f.stages)).toMatchObject({ allowed: false, reason: 'target_unknown', identity: alice });
    expect(await runCheck(checkInput({ path: '/v1/models/%2e%2e/x:predict' }), f.stages)).toMatchObject({ allowed: false, reason: 'path_invalid' });
    const chat = checkInput({ path: '/v1/chat', body: jsonBody({ model: 'churn\n' }) });
    expect(await runCheck(chat, f.stages)).toMatchObject({ allowed: false, reason: 'target_invalid' });
    expect(f.takes).toEqual([]);
  });

  it('3. authorize: a deny names the model, action and shadow rules, and the limiter is not asked', async () => {
    const f = fakes({ ok: true, identity: { ...alice, roles: [] } });
    const decision = await runCheck(checkInput(), f.stages);
    expect(decision).toMatchObject({ allowed: false, reason: 'no_matching_rule', model: 'churn', action: 'predict', shadowRules: ['watch'] });
    expect(f.takes).toEqual([]);
  });

  it('4. limit: a limiter deny keeps its reason and report, with the rule that allowed', async () => {
    const limit: LimitOutcome = {
      allowed: false,
      reason: 'rate_limited',
      retryAfterSeconds: 7,
      limitId: 'per-key',
      responseHeaders: [['ratelimit-remaining', '0']],
      metadata: { ratelimit_remaining: 0 },
      shadowDenied: [],
    };
    const f = fakes(allowed, limit);
    const decision = await runCheck(checkInput(), f.stages);
    expect(decision).toEqual({ allowed: false, reason: 'rate_limited', identity: alice, model: 'churn', action: 'predict', ruleId: 'readers', shadowRules: ['watch'], limit });
  });

  it('4. limit: limiter_unavailable is a deny, never an allow', async () => {
    const f = fakes(allowed, { allowed: false, reason: 'limiter_unavailable', responseHeaders: [], metadata: {}, shadowDenied: [] });
    expect(await runCheck(checkInput(), f.stages)).toMatchObject({ allowed: false, reason: 'limiter_unavailable' });
  });

  it('allows with the limiter asked once, with the identity, target, request id, clock and body', async () => {
    const f = fakes(allowed);
    const input = checkInput({ path: '/v1/chat', body: jsonBody({ model: 'Churn', max_tokens: 9 }) });
    const trace: CheckTrace = { rules: [] };
    const decision = await runCheck(input, f.stages, trace);
    expect(decision).toMatchObject({ allowed: true, reason: 'allowed', identity: alice, model: 'churn', action: 'chat', ruleId: 'readers', shadowRules: ['watch'] });
    expect(f.takes).toHaveLength(1);
    const take = f.takes[0]!;
    expect([take.identity, take.model, take.action, take.requestId, take.now]).toEqual([alice, 'churn', 'chat', 'req-1', NOW]);
    expect(take.body()).toEqual({ model: 'Churn', max_tokens: 9 });
    // The trace: the identity result, every rule, and a mark at the start and after each of the four stages.
    expect(trace.identity).toEqual(allowed);
    expect(trace.rules.map((r) => r.id)).toEqual(['readers', 'watch']);
    expect(trace.marks).toHaveLength(5);
  });
});
