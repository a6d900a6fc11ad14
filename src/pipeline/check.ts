// The Check pipeline, one direction only: identity → target → rules (authorize) → limit → decision.
// Stages never call each other; this function is their table of contents.

import { resolveApproval, type ApprovalStage } from '../approvals/resolve.js';
import { lazyJsonBody } from '../check/body.js';
import type { CheckInput } from '../check/check-input.js';
import type { CheckTrace } from '../check/trace.js';
import { denied, type Decision } from '../decision/decision.js';
import type { IdentityResolver } from '../identity/resolver.js';
import type { CompiledInputRules } from '../guardrails/input/compile.js';
import { screenInput } from '../guardrails/input/evaluate.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { evaluateRules } from '../policy/evaluate-rules.js';
import type { TargetResolver } from '../policy/target.js';
import type { Limiter } from '../ratelimit/limiter.js';

export interface PipelineStages {
  readonly identity: IdentityResolver;
  readonly target: TargetResolver;
  readonly policy: CompiledPolicy;
  readonly limiter: Limiter;
  readonly now: () => number;
  /** guardrails.input, compiled; absent when there are no input rules. */
  readonly inputRules?: CompiledInputRules;
  /** Grants and pending requests (src/approvals/); absent without an approvals section. */
  readonly approvals?: ApprovalStage;
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

  // 3. authorize: may this identity do that (the policy's rules)
  const ruled = evaluateRules(stages.policy, { identity, target: targeted.target, input, body }, trace?.rules);
  // 3a. approval: a matched require_approval rule passes only with an approver's live grant
  const verdict = ruled.allowed || !ruled.approvers ? ruled : await resolveApproval(stages.approvals, ruled, { identity, model, action, input, now: nowMs });
  marks?.push(performance.now());
  if (!verdict.allowed) {
    const { reason, ruleId, shadowRules, detail, bodyExtra, limit } = verdict;
    return denied(reason, { identity, model, action, ruleId, shadowRules, detail, bodyExtra, limit });
  }

  // 3b. input rules: is the body acceptable (guardrails.input; parsed only when a rule selects the request)
  const screened = screenInput(stages.inputRules, { identity, target: targeted.target, input, body }, verdict.shadowRules, trace?.rules);
  if (!screened.allowed) return screened;

  // 4. limit: is there budget left
  const limit = await stages.limiter.take({ identity, model, action, requestId: input.requestId, body, now: nowMs, contextExtensions: input.contextExtensions });
  marks?.push(performance.now());
  const { ruleId, detail } = verdict;
  const { shadowRules } = screened;
  if (!limit.allowed) return { allowed: false, reason: limit.reason, identity, model, action, ruleId, shadowRules, limit, detail: limit.detail ?? detail, bodyExtra: limit.bodyExtra };
  return { allowed: true, reason: 'allowed', identity, model, action, ruleId, shadowRules, limit, detail };
}
