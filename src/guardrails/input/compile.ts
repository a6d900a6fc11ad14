// Compiles `guardrails.input` once at load: the policy's selector matchers, type-checked CEL planned
// in the input environment, regexes compiled; every problem reported by key path.

import { isCelError, parse, plan } from '@bufbuild/cel';
import type { ConfigProblem, KeyPath } from '../../config/problems.js';
import type { Config } from '../../config/schema.js';
import { subjectEntryProblem } from '../../identity/subject.js';
import { checkCel } from '../../policy/cel-check.js';
import type { ConditionResult } from '../../policy/compile.js';
import { unknownRoleProblems } from '../../policy/roles.js';
import { compileSelectors, type RuleSelectors } from '../../policy/selectors.js';
import type { InputLimits, InputRuleConfig, InputRulesConfig } from './config.js';
import { constantPatternProblems, INPUT_DECLARATIONS, inputCelEnv } from './cel.js';

export interface CompiledInputRule extends RuleSelectors {
  readonly id: string;
  readonly shadow: boolean;
  /** 'true' denies (or, in shadow, reports). */
  readonly condition: (activation: object) => ConditionResult;
}

export interface CompiledInputRules {
  readonly rules: readonly CompiledInputRule[];
  readonly limits: InputLimits;
}

export interface InputCompileContext {
  /** policy.roles: a selector naming an undeclared role is an error, as in policy rules. */
  readonly roles: ReadonlySet<string>;
  /** Policy rule ids: input rule ids share the decision's rule_id and shadow_rules, so they must differ. */
  readonly policyRuleIds: ReadonlySet<string>;
  /** identity.jwt.issuers[].name, for `jwt:<issuer>:<sub>` subjects. */
  readonly issuerNames: ReadonlySet<string>;
}

/** The input rules of a whole config, checked against its roles, policy rule ids and issuers. */
export function compileConfigInputRules(config: Pick<Config, 'policy' | 'identity' | 'guardrails'>): { compiled?: CompiledInputRules; problems: ConfigProblem[] } {
  return compileInputRules(config.guardrails?.input, {
    roles: new Set(Object.keys(config.policy.roles)),
    policyRuleIds: new Set(config.policy.rules.map((r) => r.id)),
    issuerNames: new Set((config.identity.jwt?.issuers ?? []).map((i) => i.name)),
  });
}

/** `compiled` is undefined when there are no rules: the pipeline then skips the phase for free. */
export function compileInputRules(
  config: InputRulesConfig | undefined,
  context: InputCompileContext,
): { compiled?: CompiledInputRules; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  if (!config || config.rules.length === 0) return { problems };
  const patterns = new Map<string, RegExp>();
  const env = inputCelEnv(patterns);
  const seen = new Map<string, number>();
  const rules: CompiledInputRule[] = [];
  config.rules.forEach((rule, index) => {
    const at = (...rest: Array<string | number>): KeyPath => ['guardrails', 'input', 'rules', index, ...rest];
    const before = problems.length;
    const previous = seen.get(rule.id);
    if (previous !== undefined) problems.push({ path: at('id'), message: `duplicate rule id '${rule.id}' (also rules[${previous}])` });
    if (context.policyRuleIds.has(rule.id)) problems.push({ path: at('id'), message: `rule id '${rule.id}' is also a policy rule id (decisions name either kind by id)` });
    seen.set(rule.id, previous ?? index);
    problems.push(...unknownRoleProblems(context.roles, rule.roles, at('roles')));
    rule.subjects?.forEach((subject, i) => {
      const problem = subjectEntryProblem(subject, context.issuerNames);
      if (problem) problems.push({ path: at('subjects', i), message: problem });
    });
    const selectors = compileSelectors(rule, at, problems);
    const condition = compileCondition(rule, env, patterns, (message) => problems.push({ path: at('when'), message }));
    if (problems.length > before || !condition) return;
    rules.push({
      id: rule.id,
      shadow: rule.shadow,
      ...selectors,
      condition,
    });
  });
  return problems.length > 0 ? { problems } : { compiled: { rules, limits: config.limits }, problems };
}

function compileCondition(
  rule: InputRuleConfig,
  env: ReturnType<typeof inputCelEnv>,
  patterns: Map<string, RegExp>,
  problem: (message: string) => void,
): CompiledInputRule['condition'] | undefined {
  try {
    const parsed = parse(rule.when);
    const checked = checkCel(parsed, env.funcs, INPUT_DECLARATIONS);
    const found = [...checked.problems, ...constantPatternProblems(parsed, patterns)];
    found.forEach(problem);
    if (found.length > 0) return undefined;
    const program = plan(env, parsed);
    return (activation) => {
      try {
        const result = program(activation as Parameters<typeof program>[0]);
        return result === true ? 'true' : result === false ? 'false' : isCelError(result) ? 'error' : 'error';
      } catch {
        // A throw from a helper (see cel.ts) is an undecided condition: the caller fails closed.
        return 'error';
      }
    };
  } catch (error) {
    problem(`invalid CEL expression: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}
