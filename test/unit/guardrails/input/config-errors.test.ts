// One fixture per guardrails.input config failure, each with the exact message (file, line, key
// path) that serve, validate and the policy tests all report through the one loader.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStages } from '../../../../src/app/load-stages.js';
import { unlimited } from '../../../../src/ratelimit/limiter.js';

const fixture = (name: string) => join('test', 'fixtures', 'guardrails-input', name);

function problemsOf(name: string): readonly string[] {
  const loaded = loadStages(fixture(name), { env: {}, now: Date.now, limiter: unlimited });
  return loaded.ok ? [] : loaded.error.lines;
}

describe('guardrails.input config errors', () => {
  it.each([
    ['unknown-key.yaml', "13: guardrails.input.rules[0].shadwo: unknown field 'shadwo'"],
    ['missing-when.yaml', '11: guardrails.input.rules[0].when: required'],
    ['bad-limit.yaml', '10: guardrails.input.limits.max_depth: must be at least 2'],
    ['unknown-role.yaml', "12: guardrails.input.rules[0].roles[0]: unknown role 'chat_usr' (not declared in policy.roles)"],
    ['duplicate-id.yaml', "12: guardrails.input.rules[1].id: duplicate rule id 'r' (also rules[0])"],
    ['policy-id-collision.yaml', "11: guardrails.input.rules[0].id: rule id 'chat' is also a policy rule id (decisions name either kind by id)"],
    [
      'unqualified-subject.yaml',
      "12: guardrails.input.rules[0].subjects[0]: subject 'alice' does not name its source: write api_key:alice (an API key's subject), jwt:<issuer name>:alice (a JWT's sub from that issuer) or mtls:alice (a workload subject or SAN)",
    ],
    [
      'unknown-input-field.yaml',
      "12: guardrails.input.rules[0].when: input has no field 'user_txt' (fields: message_count, total_chars, roles, tool_count, tool_names, user_text, system_text, all_text, text_truncated)",
    ],
    ['int-compared-to-string.yaml', '12: guardrails.input.rules[0].when: input.message_count (int) is never equal to "10" (string)'],
    ['non-constant-pattern.yaml', '12: guardrails.input.rules[0].when: matches() needs a string literal pattern (compiled once at load)'],
    [
      'catastrophic-regex.yaml',
      "12: guardrails.input.rules[0].when: regex '(\\w+\\s?)+$' repeats a group that itself repeats or alternates (catastrophic backtracking: write it without the nesting)",
    ],
  ])('%s', (name, expected) => {
    expect(problemsOf(name)).toEqual([`${fixture(name)}:${expected}`]);
  });
});
