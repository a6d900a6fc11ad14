// Cross-section config check for approvals: kept apart from the schema so config/schema.ts can import the schema without a loop.

import type { ConfigProblem } from '../config/problems.js';
import type { Config } from '../config/schema.js';

/** A require_approval rule with no approvals section would answer approval_required with nobody able to approve. */
export function approvalConfigProblems(config: Config): ConfigProblem[] {
  if (config.approvals) return [];
  return config.policy.rules.flatMap((rule, i) =>
    rule.effect === 'require_approval'
      ? [{ path: ['policy', 'rules', i, 'effect'], message: 'require_approval needs an approvals section (where approvers act and grants are kept)' }]
      : [],
  );
}
