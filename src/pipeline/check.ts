// The Check pipeline, one direction only: identity → target → authorize → limit → decision.
// Stages never call each other; this function is their table of contents.

import type { Decision } from '../decision/decision.js';
import type { DenyReason } from '../decision/reasons.js';
import type { IdentityResolver } from '../identity/resolver.js';
import type { IdentityResult } from '../identity/result.js';
import { authorize, type RuleTrace } from '../policy/authorize.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { TargetResolver } from '../policy/target.js';
import type { Limiter } from '../ratelimit/limiter.js';
import type { CheckInput } from './check-input.js';
import { lazyJsonBody } from './body.js';

export interface PipelineStages {
  readonly identity: IdentityResolver;
  readonly target: TargetResolver;
  readonly policy: CompiledPolicy;
  readonly limiter: Limiter;
  readonly now: () => number;
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

const NONE: readonly string[] = [];

function denied(reason: DenyReason, fields: Partial<Decision> = {}): Decision {
  return { allowed: false, reason, shadowRules: NONE, ...fields };
}

/** The caller passes the stages current when the check starts, so a reload swaps them between checks, never within one. */
export async function runCheck(input: CheckInput, stages: PipelineStages, trace?: CheckTrace): Promise<Decision> {
  const nowMs = stages.now();
  const body = lazyJsonBody(input.body);
  const marks = trace ? (trace.marks = [performance.now()]) : undefined;

  // 1. identity: who is calling
  const resolved = await stages.identity.resolve(input, nowMs);
  if (trace) trace.identity = resolved;
  marks?.push(performance.now());
  if (!resolved.ok) return denied(resolved.reason, { detail: resolved.detail });
  const identity = resolved.identity;

  // 2. target: which model and action
  const targeted = stages.target(input, body);
  marks?.push(performance.now());
  if (!targeted.ok) return denied(targeted.reason, { identity, detail: targeted.detail });
  const { model, action } = targeted.target;

  // 3. authorize: may this identity do that
  const verdict = authorize(stages.policy, { identity, target: targeted.target, input, body }, trace?.rules);
  marks?.push(performance.now());
  if (!verdict.allowed) {
    return denied(verdict.reason, { identity, model, action, ruleId: verdict.ruleId, shadowRules: verdict.shadowRules, detail: verdict.detail });
  }

  // 4. limit: is there budget left
  const limit = await stages.limiter.take({ identity, model, action, requestId: input.requestId, body, now: nowMs });
  marks?.push(performance.now());
  const { ruleId, shadowRules } = verdict;
  if (!limit.allowed) return { allowed: false, reason: limit.reason, identity, model, action, ruleId, shadowRules, limit };
  return { allowed: true, reason: 'allowed', identity, model, action, ruleId, shadowRules, limit };
}
