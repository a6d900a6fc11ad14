// The RBAC stage (evaluateRules) against policies compiled exactly as at load (schema defaults + compilePolicy):
// deny overrides allow whatever the order, shadow rules only report, a rule that reads the body
// needs a complete one, a condition that cannot be decided fails closed, and nothing matching is
// a deny.

import { describe, expect, it } from 'vitest';
import { lazyJsonBody } from '../../../src/check/body.js';
import type { CheckInput } from '../../../src/check/check-input.js';
import { policySchema } from '../../../src/config/schema.js';
import type { Identity } from '../../../src/identity/identity.js';
import type { RuleTrace } from '../../../src/check/trace.js';
import { evaluateRules, type RulesVerdict } from '../../../src/policy/evaluate-rules.js';
import { compilePolicy, type CompiledPolicy } from '../../../src/policy/compile.js';
import { checkInput, jsonBody } from '../../helpers/check-input.js';

function compiled(rules: unknown[]): CompiledPolicy {
  const config = policySchema.parse({ roles: { reader: null, writer: null, admin: null }, rules });
  const { policy, problems } = compilePolicy(config);
  expect(problems).toEqual([]);
  return policy!;
}

const alice: Identity = { subject: 'jwt:corp:alice', method: 'jwt', roles: ['reader'], attributes: { org: 'acme' } };
const target = { model: 'churn', action: 'predict', path: '/v1/models/churn:predict' };

function decide(policy: CompiledPolicy, o: { identity?: Identity; input?: CheckInput; model?: string; trace?: RuleTrace[] } = {}): RulesVerdict {
  const input = o.input ?? checkInput();
  return evaluateRules(policy, { identity: o.identity ?? alice, target: { ...target, model: o.model ?? target.model }, input, body: lazyJsonBody(input.body) }, o.trace);
}

describe('evaluateRules', () => {
  it('allows on the first matching allow rule and names it', () => {
    const policy = compiled([
      { id: 'writers', effect: 'allow', roles: ['writer'] },
      { id: 'readers', effect: 'allow', roles: ['reader'], models: ['churn'] },
      { id: 'everyone', effect: 'allow', roles: ['reader', 'writer'] },
    ]);
    expect(decide(policy)).toEqual({ allowed: true, ruleId: 'readers', shadowRules: [] });
  });

  it('denies with no_matching_rule when nothing matches (default deny)', () => {
    const policy = compiled([{ id: 'writers', effect: 'allow', roles: ['writer'] }]);
    const verdict = decide(policy);
    expect(verdict).toMatchObject({ allowed: false, reason: 'no_matching_rule' });
    expect(verdict.allowed ? 'allowed' : verdict.ruleId).toBeUndefined();
    expect(decide(compiled([]))).toMatchObject({ allowed: false, reason: 'no_matching_rule' });
  });

  it('lets a deny rule override an allow that comes before it', () => {
    const policy = compiled([
      { id: 'readers', effect: 'allow', roles: ['reader'] },
      { id: 'no-churn', effect: 'deny', models: ['churn'] },
    ]);
    expect(decide(policy)).toMatchObject({ allowed: false, reason: 'denied_by_rule', ruleId: 'no-churn' });
    expect(decide(policy, { model: 'fraud' })).toMatchObject({ allowed: true, ruleId: 'readers' });
  });

  it('matches subjects exactly, models by glob in lower case, and roles by any overlap', () => {
    const policy = compiled([
      { id: 'alice-only', effect: 'allow', subjects: ['jwt:corp:alice'], models: ['Churn-*'] },
    ]);
    expect(decide(policy, { model: 'churn-v2' })).toMatchObject({ allowed: true, ruleId: 'alice-only' });
    expect(decide(policy, { model: 'fraud' })).toMatchObject({ reason: 'no_matching_rule' });
    expect(decide(policy, { model: 'churn-v2', identity: { ...alice, subject: 'jwt:corp:bob' } })).toMatchObject({ reason: 'no_matching_rule' });
  });

  it('reports shadow rules without letting them change the decision', () => {
    const policy = compiled([
      { id: 'shadow-deny', effect: 'deny', models: ['churn'], shadow: true },
      { id: 'shadow-allow', effect: 'allow', roles: ['admin'], shadow: true },
      { id: 'readers', effect: 'allow', roles: ['reader'] },
    ]);
    // The shadow deny matched and is reported; the shadow allow did not match (alice is no admin).
    expect(decide(policy)).toEqual({ allowed: true, ruleId: 'readers', shadowRules: ['shadow-deny'] });
    const onlyShadow = compiled([{ id: 'shadow-allow', effect: 'allow', roles: ['reader'], shadow: true }]);
    expect(decide(onlyShadow)).toMatchObject({ allowed: false, reason: 'no_matching_rule', shadowRules: ['shadow-allow'] });
  });

  it('reports a shadow deny whose condition cannot be decided, as a real deny would fail closed', () => {
    const policy = compiled([
      { id: 'big', effect: 'deny', when: 'body.max_tokens > 1000', shadow: true },
      { id: 'readers', effect: 'allow', roles: ['reader'] },
    ]);
    expect(decide(policy)).toEqual({ allowed: true, ruleId: 'readers', shadowRules: ['big'] });
  });

  it('denies body_required when a deny rule reads the body and none came complete', () => {
    const policy = compiled([
      { id: 'readers', effect: 'allow', roles: ['reader'] },
      { id: 'big', effect: 'deny', when: 'body.max_tokens > 1000' },
    ]);
    expect(decide(policy)).toMatchObject({ allowed: false, reason: 'body_required', ruleId: 'big' });
    // A cut body (max_request_bytes) is no body: a prefix of JSON never decides.
    const cut = checkInput({ body: { text: '{"max_tokens": 5}', partial: true } });
    expect(decide(policy, { input: cut })).toMatchObject({ allowed: false, reason: 'body_required' });
    expect(decide(policy, { input: checkInput({ body: jsonBody({ max_tokens: 5 }) }) })).toMatchObject({ allowed: true, ruleId: 'readers' });
    expect(decide(policy, { input: checkInput({ body: jsonBody({ max_tokens: 5000 }) }) })).toMatchObject({ allowed: false, reason: 'denied_by_rule', ruleId: 'big' });
  });

  it('does not allow on an allow rule that reads a missing body', () => {
    const policy = compiled([{ id: 'small', effect: 'allow', when: 'body.max_tokens <= 1000' }]);
    expect(decide(policy)).toMatchObject({ allowed: false, reason: 'no_matching_rule' });
  });

  it('denies condition_error when a deny condition errors, and skips an allow whose condition errors', () => {
    const denyRule = compiled([
      { id: 'readers', effect: 'allow', roles: ['reader'] },
      { id: 'tier', effect: 'deny', when: "request.headers['x-tier'] == 'free'" },
    ]);
    expect(decide(denyRule)).toMatchObject({ allowed: false, reason: 'condition_error', ruleId: 'tier' });
    const free = checkInput({ headers: { 'x-tier': 'free' } });
    expect(decide(denyRule, { input: free })).toMatchObject({ allowed: false, reason: 'denied_by_rule', ruleId: 'tier' });
    const paid = checkInput({ headers: { 'x-tier': 'paid' } });
    expect(decide(denyRule, { input: paid })).toMatchObject({ allowed: true, ruleId: 'readers' });

    const trace: RuleTrace[] = [];
    const allowRule = compiled([{ id: 'tier', effect: 'allow', when: "request.headers['x-tier'] == 'paid'" }]);
    expect(decide(allowRule, { trace })).toMatchObject({ allowed: false, reason: 'no_matching_rule' });
    expect(trace).toEqual([{ id: 'tier', effect: 'allow', shadow: false, outcome: 'condition_error' }]);
  });

  it('reads subject attributes and context extensions in conditions', () => {
    const policy = compiled([{ id: 'acme-prod', effect: 'allow', when: "subject.attributes.org == 'acme' && context.env == 'prod'" }]);
    expect(decide(policy, { input: checkInput({ contextExtensions: { env: 'prod' } }) })).toMatchObject({ allowed: true });
    expect(decide(policy, { input: checkInput({ contextExtensions: { env: 'dev' } }) })).toMatchObject({ reason: 'no_matching_rule' });
  });

  it('traces every rule with the first test it failed', () => {
    const trace: RuleTrace[] = [];
    const policy = compiled([
      { id: 'm', effect: 'allow', models: ['fraud'] },
      { id: 'a', effect: 'allow', actions: ['train'] },
      { id: 's', effect: 'allow', subjects: ['jwt:corp:bob'] },
      { id: 'r', effect: 'allow', roles: ['admin'] },
      { id: 'f', effect: 'allow', when: 'false' },
      { id: 'ok', effect: 'allow' },
    ]);
    decide(policy, { trace });
    expect(trace.map((t) => [t.id, t.outcome])).toEqual([
      ['m', 'model'],
      ['a', 'action'],
      ['s', 'subject'],
      ['r', 'role'],
      ['f', 'condition_false'],
      ['ok', 'matched'],
    ]);
  });
});
