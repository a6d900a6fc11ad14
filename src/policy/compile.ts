// Compiles policy rules once at load: glob matchers, role sets and planned CEL programs, with every
// problem reported by key path.

import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { PolicyConfig, RuleConfig } from '../config/schema.js';
import type { ConfigProblem } from '../config/problems.js';
import { checkCel } from './cel-check.js';
import { compilePathPattern } from './target.js';
import { nameChecker } from './names.js';
import { unknownRoleProblems } from './roles.js';
import { compileSelectors, type RuleSelectors } from './selectors.js';

export type ConditionResult = 'true' | 'false' | 'error';

export interface CompiledRule extends RuleSelectors {
  readonly id: string;
  readonly index: number;
  readonly effect: 'allow' | 'deny' | 'require_approval';
  /** require_approval only: the roles whose holders may approve (src/approvals/). */
  readonly approvers?: readonly string[];
  readonly shadow: boolean;
  readonly condition?: (activation: object) => ConditionResult;
  /** The condition reads `body`, so it cannot be decided without a complete JSON body. */
  readonly usesBody: boolean;
  readonly source?: string;
}

export interface CompiledPolicy {
  readonly rules: readonly CompiledRule[];
  readonly roles: ReadonlySet<string>;
}

const env = celEnv();

export function compilePolicy(policy: PolicyConfig): { policy?: CompiledPolicy; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const roles = new Set(Object.keys(policy.roles));
  const seen = new Map<string, number>();
  const rules: CompiledRule[] = [];
  policy.rules.forEach((rule, index) => {
    const at = (...rest: Array<string | number>) => ['policy', 'rules', index, ...rest];
    const previous = seen.get(rule.id);
    if (previous !== undefined) problems.push({ path: at('id'), message: `duplicate rule id '${rule.id}' (also rules[${previous}])` });
    seen.set(rule.id, index);
    problems.push(...unknownRoleProblems(roles, rule.roles, at('roles')), ...unknownRoleProblems(roles, rule.approvers, at('approvers')));
    const compiled = compileRule(rule, index, at, problems);
    if (compiled) rules.push(compiled);
  });
  const isSafeName = nameChecker(policy.targets.names);
  policy.targets.paths.forEach((p, i) => {
    try {
      compilePathPattern(p.pattern);
    } catch (error) {
      problems.push({ path: ['policy', 'targets', 'paths', i, 'pattern'], message: (error as Error).message });
    }
    // A fixed name outside the safe set would deny every request on the route as target_invalid.
    for (const key of ['model', 'action'] as const) {
      const name = p[key];
      if (name !== undefined && !isSafeName(name)) {
        problems.push({ path: ['policy', 'targets', 'paths', i, key], message: `'${name}' does not match policy.targets.names.pattern` });
      }
    }
  });
  return problems.length > 0 ? { problems } : { policy: { rules, roles }, problems };
}

function compileRule(
  rule: RuleConfig,
  index: number,
  at: (...rest: Array<string | number>) => Array<string | number>,
  problems: ConfigProblem[],
): CompiledRule | undefined {
  const before = problems.length;
  const selectors = compileSelectors(rule, at, problems);
  let condition: CompiledRule['condition'];
  let usesBody = false;
  if (rule.when !== undefined) {
    try {
      const parsed = parse(rule.when);
      // Type-checked against the declared variables (cel-types.ts): a typo is a load error, not a
      // condition_error on every request.
      const checked = checkCel(parsed, env.funcs);
      for (const message of checked.problems) problems.push({ path: at('when'), message });
      usesBody = checked.variables.has('body');
      const program = plan(env, parsed);
      condition = (activation) => {
        const result = program(activation as Parameters<typeof program>[0]);
        if (result === true) return 'true';
        return result === false ? 'false' : isCelError(result) ? 'error' : 'error';
      };
    } catch (error) {
      problems.push({ path: at('when'), message: `invalid CEL expression: ${(error as Error).message.split('\n')[0]}` });
    }
  }
  if (problems.length > before) return undefined;
  return {
    id: rule.id,
    index,
    effect: rule.effect,
    approvers: rule.approvers,
    shadow: rule.shadow,
    ...selectors,
    condition,
    usesBody,
    source: rule.when,
  };
}
