// Shadow hits of input rules count in modelgate_shadow_would_deny_total{rule}, beside the policy's
// shadow deny rules; an enforced input rule's id never does (its denies are checks_total{reason}).

import { describe, expect, it } from 'vitest';
import type { Answer } from '../../../../src/decision/answer.js';
import type { Decision } from '../../../../src/decision/decision.js';
import { parseConfig } from '../../../../src/config/load.js';
import { createMetrics } from '../../../../src/metrics/metrics.js';

const { config } = parseConfig(
  `
policy:
  roles: {}
  rules: [{ id: p-watch, effect: deny, shadow: true }]
guardrails:
  input:
    rules:
      - { id: i-watch, when: 'true', shadow: true }
      - { id: i-enforced, when: 'true' }
`,
  'inline.yaml',
  {},
);

describe('input rule metrics', () => {
  it('counts input shadow hits per rule', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.setPolicy(config, 'abc');
    const decision: Decision = { allowed: true, reason: 'allowed', shadowRules: ['p-watch', 'i-watch'] };
    metrics.observeCheck(decision, {} as Answer, 0.001);
    metrics.observeCheck({ allowed: false, reason: 'input_rejected', ruleId: 'i-enforced', shadowRules: ['i-watch'] }, {} as Answer, 0.001);
    const text = await metrics.registry.metrics();
    expect(text).toContain('modelgate_shadow_would_deny_total{rule="i-watch"} 2');
    expect(text).toContain('modelgate_shadow_would_deny_total{rule="p-watch"} 1');
    expect(text).not.toContain('rule="i-enforced"');
    expect(text).toMatch(/modelgate_checks_total{[^}]*reason="input_rejected"[^}]*} 1/);
  });
});
