// When a config fails its schema, the policy checks (unknown roles, duplicate ids, CEL, globs)
// still run over every rule that is valid on its own, so `validate` reports every problem of a
// file in one run instead of revealing them one fix at a time.

import { policySchema, ruleSchema } from '../config/schema.js';
import type { ConfigProblem } from '../config/problems.js';
import { compilePolicy } from '../policy/compile.js';

/** Policy problems of the rules that parse, at their own indices; [] when the policy's frame does not parse. */
export function salvagedPolicyProblems(raw: unknown): ConfigProblem[] {
  const policy = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).policy : undefined;
  if (!policy || typeof policy !== 'object') return [];
  const rawRules = (policy as Record<string, unknown>).rules;
  const rules = Array.isArray(rawRules) ? rawRules : [];
  const kept: number[] = [];
  const valid: unknown[] = [];
  rules.forEach((rule, index) => {
    const parsed = ruleSchema.safeParse(rule);
    if (parsed.success) {
      kept.push(index);
      valid.push(rule);
    }
  });
  const frame = policySchema.safeParse({ ...policy, rules: valid });
  if (!frame.success) return [];
  // Indices of the kept rules back to the file's own.
  const original = (k: number) => kept[k] ?? k;
  return compilePolicy(frame.data).problems.map((p) => ({
    path: p.path[0] === 'policy' && p.path[1] === 'rules' && typeof p.path[2] === 'number' ? ['policy', 'rules', original(p.path[2]), ...p.path.slice(3)] : p.path,
    message: p.message.replace(/rules\[(\d+)\]/g, (_m, k: string) => `rules[${original(Number(k))}]`),
  }));
}
