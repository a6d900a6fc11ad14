// Phase 3b in runCheck: input rules run after authorize (a policy deny never reaches them) and before
// limit (an input deny never takes tokens), and their shadow hits join the policy's.

import { describe, expect, it } from 'vitest';
import { policySchema } from '../../../../src/config/schema.js';
import type { IdentityResolver } from '../../../../src/identity/resolver.js';
import { runCheck, type PipelineStages } from '../../../../src/pipeline/check.js';
import { compilePolicy } from '../../../../src/policy/compile.js';
import { targetResolver } from '../../../../src/policy/target.js';
import type { Limiter, LimitRequest } from '../../../../src/ratelimit/limiter.js';
import { checkInput, jsonBody } from '../../../helpers/check-input.js';
import { alice, chat, compile } from '../../../helpers/guardrails/input-rules.js';

const policy = policySchema.parse({
  roles: { chat_user: null, author: null, tools: null },
  rules: [
    { id: 'allow-chat', effect: 'allow', roles: ['chat_user'], actions: ['chat'] },
    { id: 'policy-watch', effect: 'deny', shadow: true, actions: ['chat'] },
  ],
  targets: { paths: [{ pattern: '/v1/chat/completions', action: 'chat', model_from_body: 'model' }] },
});

function stages(section: unknown, roles = alice.roles) {
  const takes: LimitRequest[] = [];
  const identity: IdentityResolver = { credentialHeaders: [], resolve: () => ({ ok: true, identity: { ...alice, roles } }) };
  const limiter: Limiter = {
    take: (request) => {
      takes.push(request);
      return Promise.resolve({ allowed: true, responseHeaders: [], metadata: {}, shadowDenied: [] });
    },
    ready: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
  const built: PipelineStages = { identity, target: targetResolver(policy.targets), policy: compilePolicy(policy).policy!, limiter, now: () => 0, inputRules: compile(section) };
  return { stages: built, takes };
}

const request = (body: unknown) => checkInput({ path: '/v1/chat/completions', body: jsonBody(body) });
const rules = { rules: [{ id: 'no-system', when: '"system" in input.roles' }, { id: 'input-watch', when: 'input.message_count > 0', shadow: true }] };

describe('runCheck phase 3b (input rules)', () => {
  it('denies before the limiter, with the model, action, rule and both kinds of shadow hits', async () => {
    const s = stages(rules);
    const decision = await runCheck(request(chat(['system', 'x'])), s.stages);
    expect(decision).toMatchObject({ allowed: false, reason: 'input_rejected', ruleId: 'no-system', model: 'gpt-small', action: 'chat', shadowRules: ['policy-watch'], bodyExtra: { rule: 'no-system' } });
    expect(s.takes).toEqual([]);
  });

  it('allows into the limiter with the policy rule and the shadow hits of both stages', async () => {
    const s = stages(rules);
    const decision = await runCheck(request(chat(['user', 'x'])), s.stages);
    expect(decision).toMatchObject({ allowed: true, reason: 'allowed', ruleId: 'allow-chat', shadowRules: ['policy-watch', 'input-watch'] });
    expect(s.takes).toHaveLength(1);
  });

  it('never reaches input rules after a policy deny', async () => {
    const s = stages(rules, []);
    expect(await runCheck(request(chat(['system', 'x'])), s.stages)).toMatchObject({ allowed: false, reason: 'no_matching_rule', shadowRules: ['policy-watch'] });
  });

  it('records each input rule in a traced check, after the policy rules', async () => {
    const s = stages({ rules: [{ id: 'for-authors', roles: ['author'], when: 'true' }, ...rules.rules] });
    const trace = { rules: [] };
    await runCheck(request(chat(['system', 'x'])), s.stages, trace);
    expect(trace.rules).toEqual([
      { id: 'allow-chat', effect: 'allow', shadow: false, outcome: 'matched' },
      { id: 'policy-watch', effect: 'deny', shadow: true, outcome: 'matched' },
      { id: 'for-authors', effect: 'deny', shadow: false, outcome: 'role' },
      { id: 'no-system', effect: 'deny', shadow: false, outcome: 'matched' },
    ]);
  });

  it('skips the phase without input rules', async () => {
    const s = stages(rules);
    const decision = await runCheck(request(chat(['system', 'x'])), { ...s.stages, inputRules: undefined });
    expect(decision).toMatchObject({ allowed: true, shadowRules: ['policy-watch'] });
  });
});
