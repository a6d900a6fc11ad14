// What a traced check records, stage by stage: filled by the pipeline and the rule evaluator, read
// by explain, `modelgate test`, the debug decision log and the check's span.

import type { IdentityResult } from '../identity/result.js';

/** One policy rule's outcome for one check, in policy order. */
export interface RuleTrace {
  readonly id: string;
  readonly effect: 'allow' | 'deny' | 'require_approval';
  readonly shadow: boolean;
  readonly outcome: 'matched' | 'role' | 'subject' | 'model' | 'action' | 'condition_false' | 'condition_error' | 'body_missing';
}

export interface CheckTrace {
  identity?: IdentityResult;
  rules: RuleTrace[];
  /**
   * `performance.now()` when the check started, then at the end of each stage it completed, in
   * order (identity, target, authorize, limit): the stage timings of a traced check's span.
   */
  marks?: number[];
}
