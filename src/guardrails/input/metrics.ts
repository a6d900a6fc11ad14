// Which input rules feed the shadow counter: input rules are deny rules, so every shadow one counts in
// modelgate_shadow_would_deny_total{rule} beside the policy's shadow deny rules (ids never collide).

import type { Config } from '../../config/schema.js';

export function inputShadowRuleIds(config: Pick<Config, 'guardrails'>): string[] {
  return (config.guardrails?.input?.rules ?? []).filter((r) => r.shadow).map((r) => r.id);
}
