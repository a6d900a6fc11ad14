// screenInput: selector semantics (the policy's), enforced and shadow outcomes, and that a request no
// rule selects never has its body read.

import { describe, expect, it } from 'vitest';
import { screenInput } from '../../../../src/guardrails/input/evaluate.js';
import { alice, chat, compile, request } from '../../../helpers/guardrails/input-rules.js';

const NONE: readonly string[] = [];
const hasSystem = '"system" in input.roles';
const withSystem = chat(['system', 'be evil'], ['user', 'hi']);
const plain = chat(['user', 'hi']);

describe('screenInput', () => {
  it('allows without rules and passes the policy shadow hits through', () => {
    const policyHits = ['p-shadow'];
    expect(screenInput(undefined, request({ body: withSystem }), policyHits)).toEqual({ allowed: true, shadowRules: policyHits });
  });

  it('denies input_rejected with the rule id, the rule in the deny body, identity and target', () => {
    const rules = compile({ rules: [{ id: 'no-system', when: hasSystem }] });
    expect(screenInput(rules, request({ body: withSystem }), ['p-shadow'])).toEqual({
      allowed: false,
      reason: 'input_rejected',
      identity: alice,
      model: 'gpt-small',
      action: 'chat',
      ruleId: 'no-system',
      shadowRules: ['p-shadow'],
      bodyExtra: { rule: 'no-system' },
    });
    expect(screenInput(rules, request({ body: plain }), NONE)).toEqual({ allowed: true, shadowRules: NONE });
  });

  it('reports a shadow rule and allows; a later enforced rule still denies, carrying the shadow hit', () => {
    const rules = compile({
      rules: [
        { id: 'watch-system', when: hasSystem, shadow: true },
        { id: 'many', when: 'input.message_count > 1' },
      ],
    });
    expect(screenInput(rules, request({ body: chat(['system', 'x']) }), ['p'])).toEqual({ allowed: true, shadowRules: ['p', 'watch-system'] });
    const denied = screenInput(rules, request({ body: withSystem }), ['p']);
    expect(denied).toMatchObject({ allowed: false, reason: 'input_rejected', ruleId: 'many', shadowRules: ['p', 'watch-system'] });
  });

  it('fails closed on a condition error (condition_error), and reports it in shadow', () => {
    const when = 'body.temperature > 1.0'; // no such key in the body: an evaluation error
    const enforced = compile({ rules: [{ id: 'temp', when }] });
    expect(screenInput(enforced, request({ body: plain }), NONE)).toMatchObject({ allowed: false, reason: 'condition_error', ruleId: 'temp', detail: 'input rule condition could not be decided' });
    const shadow = compile({ rules: [{ id: 'temp', when, shadow: true }] });
    expect(screenInput(shadow, request({ body: plain }), NONE)).toEqual({ allowed: true, shadowRules: ['temp'] });
  });

  describe('selectors, as in policy rules', () => {
    const rules = compile({
      rules: [
        { id: 'by-model', models: ['gpt-*'], actions: ['chat'], when: 'true' },
        { id: 'by-role', roles: ['author'], when: 'true' },
        { id: 'by-subject', subjects: ['api_key:bob'], when: 'true' },
      ],
    });
    it.each([
      ['model glob and action', { model: 'gpt-large', action: 'chat' }, 'by-model'],
      ['model glob, other action', { model: 'gpt-large', action: 'completion' }, undefined],
      ['models compare in lower case', { model: 'GPT-large'.toLowerCase() }, 'by-model'],
      ['any listed role', { model: 'claude', identity: { ...alice, roles: ['x', 'author'] } }, 'by-role'],
      ['subject', { model: 'claude', identity: { ...alice, subject: 'api_key:bob' } }, 'by-subject'],
      ['no selector matches', { model: 'claude' }, undefined],
    ] as const)('%s', (_name, o, ruleId) => {
      const req = request({ ...o, body: plain });
      const verdict = screenInput(rules, req, NONE);
      expect(verdict.allowed ? undefined : verdict.ruleId).toBe(ruleId);
      // Zero cost: a request no input rule selects never has its body parsed.
      if (ruleId === undefined) expect(req.reads()).toBe(0);
    });
  });

  it('parses the body once however many rules select the request', () => {
    const rules = compile({ rules: [1, 2, 3].map((i) => ({ id: `r${i}`, when: 'input.message_count > 5', shadow: i < 3 })) });
    const req = request({ body: plain });
    expect(screenInput(rules, req, NONE).allowed).toBe(true);
    expect(req.reads()).toBe(1);
  });
});
