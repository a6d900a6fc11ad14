// The require_approval effect in the rule evaluator: deny wins over it, it wins over allow whatever
// the order, an undecided condition still needs approval, and a shadow one only reports.

import { describe, expect, it } from 'vitest';
import { lazyJsonBody } from '../../../src/check/body.js';
import { policySchema } from '../../../src/config/schema.js';
import type { Identity } from '../../../src/identity/identity.js';
import { compilePolicy, type CompiledPolicy } from '../../../src/policy/compile.js';
import { evaluateRules } from '../../../src/policy/evaluate-rules.js';
import { checkInput } from '../../helpers/check-input.js';

function compiled(rules: unknown[]): CompiledPolicy {
  const { policy, problems } = compilePolicy(policySchema.parse({ roles: { analyst: null, lead: null }, rules }));
  expect(problems).toEqual([]);
  return policy!;
}

const ann: Identity = { subject: 'jwt:corp:ann', method: 'jwt', roles: ['analyst'], attributes: {} };
const decide = (policy: CompiledPolicy, model = 'churn') => {
  const input = checkInput();
  return evaluateRules(policy, { identity: ann, target: { model, action: 'predict', path: input.path }, input, body: lazyJsonBody(input.body) });
};
const gated = { id: 'gated', effect: 'require_approval', roles: ['analyst'], models: ['churn'], approvers: ['lead'] };

describe('require_approval in evaluateRules', () => {
  it('needs approval even when an allow rule matches first, and names the approvers', () => {
    const verdict = decide(compiled([{ id: 'open', effect: 'allow', roles: ['analyst'] }, gated]));
    expect(verdict).toEqual({ allowed: false, reason: 'approval_required', ruleId: 'gated', shadowRules: [], approvers: ['lead'] });
  });

  it('a matching deny wins over it, before or after', () => {
    const deny = { id: 'no', effect: 'deny', roles: ['analyst'] };
    expect(decide(compiled([gated, deny]))).toMatchObject({ allowed: false, reason: 'denied_by_rule', ruleId: 'no' });
    expect(decide(compiled([deny, gated]))).toMatchObject({ allowed: false, reason: 'denied_by_rule', ruleId: 'no' });
  });

  it('does not apply to other models', () => {
    expect(decide(compiled([{ id: 'open', effect: 'allow', roles: ['analyst'] }, gated]), 'fraud')).toEqual({ allowed: true, ruleId: 'open', shadowRules: [] });
  });

  it('a condition it cannot decide (body missing) still needs approval, never allows', () => {
    const verdict = decide(compiled([{ id: 'open', effect: 'allow' }, { ...gated, when: 'body.temperature > 1.0' }]));
    expect(verdict).toMatchObject({ allowed: false, reason: 'approval_required', ruleId: 'gated' });
  });

  it('a shadow require_approval rule only reports', () => {
    expect(decide(compiled([{ id: 'open', effect: 'allow' }, { ...gated, shadow: true }]))).toEqual({ allowed: true, ruleId: 'open', shadowRules: ['gated'] });
  });
});
