// The selectors every kind of rule shares (policy rules, guardrails.input rules): model and action
// globs, subjects, roles. Compiled once at load, tested in one order, so both kinds select alike.

import picomatch from 'picomatch';
import type { ConfigProblem } from '../config/problems.js';
import type { RuleTrace } from '../check/trace.js';
import type { RuleRequest } from './rule-request.js';

export interface RuleSelectors {
  readonly roles?: ReadonlySet<string>;
  readonly subjects?: ReadonlySet<string>;
  readonly matchesModel: (model: string) => boolean;
  readonly matchesAction: (action: string) => boolean;
}

interface SelectorConfig {
  readonly models: readonly string[];
  readonly actions: readonly string[];
  readonly roles?: readonly string[] | undefined;
  readonly subjects?: readonly string[] | undefined;
}

/** Bad globs are reported at `at('models', i)` / `at('actions', i)`. */
export function compileSelectors(rule: SelectorConfig, at: (...rest: Array<string | number>) => ConfigProblem['path'], problems: ConfigProblem[]): RuleSelectors {
  return {
    roles: rule.roles ? new Set(rule.roles) : undefined,
    subjects: rule.subjects ? new Set(rule.subjects) : undefined,
    // Models compare in lower case (names.ts): `Churn` in a rule or a path is `churn`.
    matchesModel: globMatcher(rule.models, (i, message) => problems.push({ path: at('models', i), message }), true),
    matchesAction: globMatcher(rule.actions, (i, message) => problems.push({ path: at('actions', i), message })),
  };
}

/** The first selector the request misses (model, action, subject, any listed role), or undefined when all match. */
export function selectorMiss(rule: RuleSelectors, req: Pick<RuleRequest, 'identity' | 'target'>): RuleTrace['outcome'] | undefined {
  const { identity, target } = req;
  if (!rule.matchesModel(target.model)) return 'model';
  if (!rule.matchesAction(target.action)) return 'action';
  if (rule.subjects && !rule.subjects.has(identity.subject)) return 'subject';
  if (rule.roles && !identity.roles.some((r) => rule.roles!.has(r))) return 'role';
  return undefined;
}

/** `*` alone matches everything without a regex; other globs compile with picomatch, brackets strict. */
/** `caseless`: the globs are lower-cased here and values arrive lower-cased (canonicalModel). */
export function globMatcher(globs: readonly string[], problem: (index: number, message: string) => void, caseless = false): (v: string) => boolean {
  if (globs.includes('*')) return () => true;
  const exact = new Set<string>();
  const patterns: Array<(v: string) => boolean> = [];
  globs.forEach((glob, i) => {
    // Any glob metacharacter means a pattern, so a broken one (`churn-[v1`) is an error, not a literal.
    if (!/[*?[\]{}()!+@]/.test(glob)) {
      exact.add(caseless ? glob.toLowerCase() : glob);
      return;
    }
    try {
      const re = picomatch.makeRe(glob, { strictBrackets: true, dot: true, nocase: caseless });
      patterns.push((v) => re.test(v));
    } catch (error) {
      problem(i, `invalid glob '${glob}': ${(error as Error).message}`);
    }
  });
  return (v) => exact.has(v) || patterns.some((p) => p(v));
}
