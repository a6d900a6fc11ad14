// Decides allow or deny for an identity and target: deny rules override allow rules, shadow rules
// only report, and nothing matching means deny.

import type { DenyReason } from '../decision/reasons.js';
import type { Identity } from '../identity/identity.js';
import type { CheckInput } from '../pipeline/check-input.js';
import type { CompiledPolicy, CompiledRule } from './compile.js';
import type { Target } from './target.js';
import { Activation } from './activation.js';

export interface AuthorizeRequest {
  readonly identity: Identity;
  readonly target: Target;
  readonly input: CheckInput;
  /** The JSON body when Envoy sent it complete, else undefined (never a partial parse). */
  readonly body: () => unknown;
}

export type AuthorizeResult =
  | { readonly allowed: true; readonly ruleId: string; readonly shadowRules: readonly string[] }
  | {
      readonly allowed: false;
      readonly reason: DenyReason;
      readonly ruleId?: string;
      readonly detail?: string;
      readonly shadowRules: readonly string[];
    };

export interface RuleTrace {
  readonly id: string;
  readonly effect: 'allow' | 'deny';
  readonly shadow: boolean;
  readonly outcome: 'matched' | 'role' | 'subject' | 'model' | 'action' | 'condition_false' | 'condition_error' | 'body_missing';
}

const NONE: readonly string[] = [];

export function authorize(policy: CompiledPolicy, req: AuthorizeRequest, trace?: RuleTrace[]): AuthorizeResult {
  let activation: Activation | undefined;
  const activate = () => (activation ??= new Activation(req));
  let shadowRules: string[] | undefined;
  let allowRule: CompiledRule | undefined;

  for (const rule of policy.rules) {
    const outcome = evaluate(rule, req, activate);
    trace?.push({ id: rule.id, effect: rule.effect, shadow: rule.shadow, outcome });
    if (rule.shadow) {
      if (outcome === 'matched' || (rule.effect === 'deny' && isUndecided(outcome))) (shadowRules ??= []).push(rule.id);
      continue;
    }
    if (rule.effect === 'deny') {
      // A deny whose condition cannot be decided fails closed: the safe reading of "maybe deny".
      if (outcome === 'matched') return deny('denied_by_rule', rule.id, shadowRules);
      if (outcome === 'body_missing') return deny('body_required', rule.id, shadowRules, 'rule reads body; none complete');
      if (outcome === 'condition_error') return deny('condition_error', rule.id, shadowRules);
    } else if (outcome === 'matched' && !allowRule) {
      allowRule = rule;
    }
  }
  if (allowRule) return { allowed: true, ruleId: allowRule.id, shadowRules: shadowRules ?? NONE };
  return deny('no_matching_rule', undefined, shadowRules);
}

function isUndecided(outcome: RuleTrace['outcome']): boolean {
  return outcome === 'condition_error' || outcome === 'body_missing';
}

function deny(reason: DenyReason, ruleId: string | undefined, shadow: string[] | undefined, detail?: string): AuthorizeResult {
  return { allowed: false, reason, ruleId, detail, shadowRules: shadow ?? NONE };
}

function evaluate(rule: CompiledRule, req: AuthorizeRequest, activate: () => Activation): RuleTrace['outcome'] {
  const { identity, target } = req;
  if (!rule.matchesModel(target.model)) return 'model';
  if (!rule.matchesAction(target.action)) return 'action';
  if (rule.subjects && !rule.subjects.has(identity.subject)) return 'subject';
  if (rule.roles && !identity.roles.some((r) => rule.roles!.has(r))) return 'role';
  if (!rule.condition) return 'matched';
  const activation = activate();
  // Parsed only for a rule that reads it: conditions without `body` cannot observe it (compile.ts).
  if (rule.usesBody && activation.readBody() === undefined) return 'body_missing';
  const result = rule.condition(activation);
  return result === 'true' ? 'matched' : result === 'false' ? 'condition_false' : 'condition_error';
}
