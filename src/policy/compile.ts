// Compiles policy rules once at load: glob matchers, role sets and planned CEL programs, with every
// problem reported by key path.

import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import picomatch from 'picomatch';
import type { PolicyConfig, RuleConfig } from '../config/schema.js';
import type { ConfigProblem } from '../config/problems.js';
import { compilePathPattern } from './target.js';

/** Variables a `when` expression may use; anything else is a typo caught at load. */
export const CEL_VARIABLES = ['subject', 'request', 'model', 'action', 'context', 'body'] as const;

export type ConditionResult = 'true' | 'false' | 'error';

export interface CompiledRule {
  readonly id: string;
  readonly index: number;
  readonly effect: 'allow' | 'deny';
  readonly shadow: boolean;
  readonly roles?: ReadonlySet<string>;
  readonly subjects?: ReadonlySet<string>;
  readonly matchesModel: (model: string) => boolean;
  readonly matchesAction: (action: string) => boolean;
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
    rule.roles?.forEach((role, i) => {
      if (!roles.has(role)) problems.push({ path: at('roles', i), message: `unknown role '${role}' (not declared in policy.roles)` });
    });
    const compiled = compileRule(rule, index, at, problems);
    if (compiled) rules.push(compiled);
  });
  policy.targets.paths.forEach((p, i) => {
    try {
      compilePathPattern(p.pattern);
    } catch (error) {
      problems.push({ path: ['policy', 'targets', 'paths', i, 'pattern'], message: (error as Error).message });
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
  const matchesModel = globMatcher(rule.models, (i, message) => problems.push({ path: at('models', i), message }));
  const matchesAction = globMatcher(rule.actions, (i, message) => problems.push({ path: at('actions', i), message }));
  let condition: CompiledRule['condition'];
  let usesBody = false;
  if (rule.when !== undefined) {
    try {
      const parsed = parse(rule.when);
      const free = freeIdentifiers(parsed.expr);
      const unknown = [...free].filter((name) => !(CEL_VARIABLES as readonly string[]).includes(name));
      if (unknown.length > 0) {
        problems.push({
          path: at('when'),
          message: `unknown variable '${unknown[0]}' (use ${CEL_VARIABLES.join(', ')})`,
        });
      }
      usesBody = free.has('body');
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
    shadow: rule.shadow,
    roles: rule.roles ? new Set(rule.roles) : undefined,
    subjects: rule.subjects ? new Set(rule.subjects) : undefined,
    matchesModel,
    matchesAction,
    condition,
    usesBody,
    source: rule.when,
  };
}

/** `*` alone matches everything without a regex; other globs compile with picomatch, brackets strict. */
function globMatcher(globs: readonly string[], problem: (index: number, message: string) => void): (v: string) => boolean {
  if (globs.includes('*')) return () => true;
  const exact = new Set<string>();
  const patterns: Array<(v: string) => boolean> = [];
  globs.forEach((glob, i) => {
    // Any glob metacharacter means a pattern, so a broken one (`churn-[v1`) is an error, not a literal.
    if (!/[*?[\]{}()!+@]/.test(glob)) {
      exact.add(glob);
      return;
    }
    try {
      const re = picomatch.makeRe(glob, { strictBrackets: true, dot: true });
      patterns.push((v) => re.test(v));
    } catch (error) {
      problem(i, `invalid glob '${glob}': ${(error as Error).message}`);
    }
  });
  return (v) => exact.has(v) || patterns.some((p) => p(v));
}

type AnyExpr = { exprKind: { case: string | undefined; value?: unknown } } | undefined;

/** Identifiers used but not bound by a comprehension (`exists(r, …)` binds r). */
function freeIdentifiers(root: unknown): Set<string> {
  const free = new Set<string>();
  const walk = (expr: AnyExpr, bound: ReadonlySet<string>): void => {
    if (!expr) return;
    const { case: kind, value } = expr.exprKind;
    const v = value as Record<string, unknown>;
    switch (kind) {
      case 'identExpr':
        if (!bound.has(v.name as string)) free.add(v.name as string);
        break;
      case 'selectExpr':
        walk(v.operand as AnyExpr, bound);
        break;
      case 'callExpr':
        walk(v.target as AnyExpr, bound);
        for (const a of v.args as AnyExpr[]) walk(a, bound);
        break;
      case 'listExpr':
        for (const e of v.elements as AnyExpr[]) walk(e, bound);
        break;
      case 'structExpr':
        for (const e of v.entries as Array<{ keyKind: { case: string; value: unknown }; value: AnyExpr }>) {
          if (e.keyKind.case === 'mapKey') walk(e.keyKind.value as AnyExpr, bound);
          walk(e.value, bound);
        }
        break;
      case 'comprehensionExpr': {
        walk(v.iterRange as AnyExpr, bound);
        walk(v.accuInit as AnyExpr, bound);
        const inner = new Set([...bound, v.iterVar as string, v.iterVar2 as string, v.accuVar as string]);
        walk(v.loopCondition as AnyExpr, inner);
        walk(v.loopStep as AnyExpr, inner);
        walk(v.result as AnyExpr, inner);
        break;
      }
      default:
        break;
    }
  };
  walk((root as { expr?: AnyExpr })?.expr ?? (root as AnyExpr), new Set());
  return free;
}
