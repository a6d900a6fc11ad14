// The Check's approval step: a matched require_approval rule passes only with a live grant for
// (subject, model, action); otherwise the caller gets approval_required and a pending request id.
// Runs only when such a rule matched, so every other check pays nothing.

import { createHash } from 'node:crypto';
import type { CheckInput } from '../check/check-input.js';
import type { Identity } from '../identity/identity.js';
import type { RulesVerdict } from '../policy/evaluate-rules.js';
import type { ApprovalEvents } from './events.js';
import type { ApprovalStore } from './store.js';

export interface ApprovalStage {
  readonly store: ApprovalStore;
  readonly pendingTtlMs: number;
  readonly events: ApprovalEvents;
}

export interface ApprovalContext {
  readonly identity: Identity;
  readonly model: string;
  readonly action: string;
  readonly input: CheckInput;
  readonly now: number;
}

type Denied = Extract<RulesVerdict, { allowed: false }>;

/**
 * `verdict` is the rules' approval_required deny. A store failure rejects: the pipeline's one
 * boundary turns it into the configured fail-closed answer (503), never an allow and never a
 * pending request nobody could find again.
 */
export async function resolveApproval(stage: ApprovalStage | undefined, verdict: Denied, ctx: ApprovalContext): Promise<RulesVerdict> {
  if (!stage) return { ...verdict, detail: 'needs an approval grant; no grant store in this evaluation (explain, policy tests)' };
  const { identity, model, action, input, now } = ctx;
  const subject = identity.subject;
  const ruleId = verdict.ruleId ?? '';
  const requestId = input.requestId;
  const found = await stage.store.findGrant(subject, model, action, now);
  if (found.state === 'valid') {
    const grant = found.grant;
    stage.events({ kind: 'grant_used', subject, model, action, ruleId, approvalId: grant.approvalId, grantId: grant.id, approver: grant.approver, expiresAt: grant.expiresAt, requestId, time: now });
    return { allowed: true, ruleId, shadowRules: verdict.shadowRules, detail: `approval grant ${grant.id} by ${grant.approver}` };
  }
  if (found.state === 'expired') {
    const grant = found.grant;
    stage.events({ kind: 'grant_expired_refused', subject, model, action, ruleId, approvalId: grant.approvalId, grantId: grant.id, expiresAt: grant.expiresAt, requestId, time: now });
  }
  // The body as Envoy sent it (a partial one too): the approver sees which input was asked about.
  const inputSha256 = createHash('sha256').update(input.body?.text ?? '').digest('hex');
  const draft = { subject, model, action, inputSha256, ruleId, approvers: verdict.approvers ?? [] };
  const { request, created } = await stage.store.openRequest(draft, now, stage.pendingTtlMs);
  if (created) {
    stage.events({ kind: 'approval_requested', subject, model, action, ruleId, approvalId: request.id, inputSha256, expiresAt: request.expiresAt, requestId, time: now });
  }
  const fields = { approval_id: request.id, subject, model, action, input_sha256: inputSha256 };
  const expired = found.state === 'expired' ? `; grant ${found.grant.id} expired` : '';
  return {
    ...verdict,
    detail: `approval ${request.id} pending${created ? '' : ' (reused)'}${expired}`,
    // The deny body's fields, which the answer also puts in the dynamic metadata for the access log.
    bodyExtra: fields,
  };
}
