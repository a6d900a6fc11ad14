// The RBAC stage: evaluates the policy's rules for an identity and target. Deny rules override
// require_approval rules, which override allow rules; shadow rules only report, and nothing matching
// means deny.

import { denied, type Decision } from '../decision/decision.js';
import type { DenyReason } from '../decision/reasons.js';
import type { RuleTrace } from '../check/trace.js';
import type { CompiledPolicy, CompiledRule } from './compile.js';
import type { RuleRequest } from './rule-request.js';
import { Activation } from './activation.js';
import { selectorMiss } from './selectors.js';

export type RulesVerdict =
  | {
      readonly allowed: true;
      readonly ruleId: string;
      readonly shadowRules: readonly string[];
      /** Why beyond the rule, for the decision log: the approval grant that let a require_approval rule pass. */
      readonly detail?: string;
    }
  | {
      readonly allowed: false;
      readonly reason: DenyReason;
      readonly ruleId?: string;
      readonly detail?: string;
      readonly shadowRules: readonly string[];
      /**
       * Set with reason `approval_required`: a require_approval rule matched and no deny did. The
       * pipeline resolves it against the grant store (src/approvals/); a caller that does not knows
       * only a deny, which is the safe reading.
       */
      readonly approvers?: readonly string[];
      /** Set by the approval step: the deny body's and the proxy metadata's approval fields. */
      readonly bodyExtra?: Decision['bodyExtra'];
      readonly limit?: Decision['limit'];
    };

const NONE: readonly string[] = [];

export function evaluateRules(policy: CompiledPolicy, req: RuleRequest, trace?: RuleTrace[]): RulesVerdict {
  let activation: Activation | undefined;
  const activate = () => (activation ??= new Activation(req));
  let shadowRules: string[] | undefined;
  let allowRule: CompiledRule | undefined;
  let approvalRule: CompiledRule | undefined;

  for (const rule of policy.rules) {
    const outcome = evaluate(rule, req, activate);
    trace?.push({ id: rule.id, effect: rule.effect, shadow: rule.shadow, outcome });
    if (rule.shadow) {
      if (outcome === 'matched' || (rule.effect === 'deny' && isUndecided(outcome))) (shadowRules ??= []).push(rule.id);
      continue;
    }
    if (rule.effect === 'deny') {
      // A deny whose condition cannot be decided fails closed: the safe reading of "maybe deny".
      if (outcome === 'matched') return denied('denied_by_rule', { ruleId: rule.id, shadowRules: shadowRules ?? NONE });
      if (outcome === 'body_missing') return denied('body_required', { ruleId: rule.id, shadowRules: shadowRules ?? NONE, detail: 'rule reads body; none complete' });
      if (outcome === 'condition_error') return denied('condition_error', { ruleId: rule.id, shadowRules: shadowRules ?? NONE });
    } else if (rule.effect === 'require_approval') {
      // Undecided reads as "approval needed": never an allow, and a grant still lets the caller on.
      if ((outcome === 'matched' || isUndecided(outcome)) && !approvalRule) approvalRule = rule;
    } else if (outcome === 'matched' && !allowRule) {
      allowRule = rule;
    }
  }
  // Checked before the allow: an allow rule that also matches never skips the approval.
  if (approvalRule) {
    return { allowed: false, reason: 'approval_required', ruleId: approvalRule.id, shadowRules: shadowRules ?? NONE, approvers: approvalRule.approvers ?? NONE };
  }
  if (allowRule) return { allowed: true, ruleId: allowRule.id, shadowRules: shadowRules ?? NONE };
  return denied('no_matching_rule', { shadowRules: shadowRules ?? NONE });
}

function isUndecided(outcome: RuleTrace['outcome']): boolean {
  return outcome === 'condition_error' || outcome === 'body_missing';
}

function evaluate(rule: CompiledRule, req: RuleRequest, activate: () => Activation): RuleTrace['outcome'] {
  const miss = selectorMiss(rule, req);
  if (miss) return miss;
  if (!rule.condition) return 'matched';
  const activation = activate();
  // Parsed only for a rule that reads it: conditions without `body` cannot observe it (compile.ts).
  if (rule.usesBody && activation.readBody() === undefined) return 'body_missing';
  const result = rule.condition(activation);
  return result === 'true' ? 'matched' : result === 'false' ? 'condition_false' : 'condition_error';
}
