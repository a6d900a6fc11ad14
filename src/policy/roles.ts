// Every role a config names (in a rule, a workload, an API key) must be declared in policy.roles:
// a typo would otherwise silently grant or match nothing. The one check, for every place roles appear.

import type { Config } from '../config/schema.js';
import type { ConfigProblem, KeyPath } from '../config/problems.js';

/** One problem per role of `roles` (at `path[i]`) that `declared` does not hold. */
export function unknownRoleProblems(declared: ReadonlySet<string>, roles: readonly string[] | undefined, path: KeyPath): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  roles?.forEach((role, i) => {
    if (!declared.has(role)) problems.push({ path: [...path, i], message: `unknown role '${role}' (not declared in policy.roles)` });
  });
  return problems;
}

/** Roles granted by mTLS workloads and inline API keys (rules are checked as they compile, policy/compile.ts). */
export function grantedRoleProblems(config: Pick<Config, 'policy' | 'identity'>): ConfigProblem[] {
  const declared = new Set(Object.keys(config.policy.roles));
  const problems: ConfigProblem[] = [];
  config.identity.mtls?.workloads.forEach((w, i) => problems.push(...unknownRoleProblems(declared, w.roles, ['identity', 'mtls', 'workloads', i, 'roles'])));
  config.identity.api_keys?.keys.forEach((k, i) => problems.push(...unknownRoleProblems(declared, k.roles, ['identity', 'api_keys', 'keys', i, 'roles'])));
  return problems;
}
