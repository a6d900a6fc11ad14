// What an authenticated approver may do: list, approve, deny, list grants, revoke. Each answer is a
// value with an HTTP status and a reason; the rules that matter for security live here, once:
// only a holder of one of the rule's approver roles acts, and never on their own request.

import { parseDuration } from '../audit/duration.js';
import type { Identity } from '../identity/identity.js';
import type { ApprovalsConfig } from './config.js';
import type { ApprovalEvents } from './events.js';
import { isWellFormedId, newGrantId, type ApprovalRequest, type ApprovalStore, type Grant } from './store.js';

export interface ActionResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface ApprovalActions {
  list(caller: Identity): Promise<ActionResult>;
  approve(caller: Identity, id: string, forText: unknown): Promise<ActionResult>;
  deny(caller: Identity, id: string): Promise<ActionResult>;
  grants(caller: Identity): Promise<ActionResult>;
  revoke(caller: Identity, id: string): Promise<ActionResult>;
}

export interface ApprovalActionsOptions {
  readonly store: ApprovalStore;
  readonly events: ApprovalEvents;
  readonly config: Pick<ApprovalsConfig, 'default_grant' | 'max_grant'>;
  readonly now: () => number;
}

const refused = (status: number, reason: string, message: string): ActionResult => ({ status, body: { error: reason, message } });
const holdsOne = (caller: Identity, roles: readonly string[]) => caller.roles.some((r) => roles.includes(r));

export function approvalActions(options: ApprovalActionsOptions): ApprovalActions {
  const { store, events, config, now } = options;

  /** The pending request `caller` may decide, or why not. */
  const decidable = async (caller: Identity, id: string): Promise<ApprovalRequest | ActionResult> => {
    if (!id.startsWith('apr_') || !isWellFormedId(id)) return refused(400, 'bad_request', 'not an approval id');
    const request = await store.findPending(id, now());
    if (!request) return refused(404, 'not_found', 'no pending approval with this id (decided, expired or never made)');
    if (!holdsOne(caller, request.approvers)) return refused(403, 'not_an_approver', `requires one of the roles: ${request.approvers.join(', ')}`);
    // Qualified subjects: a JWT sub and a certificate SAN with the same text are different callers.
    if (caller.subject === request.subject) return refused(403, 'self_approval', 'a requester cannot decide their own request');
    return request;
  };

  return {
    async list(caller) {
      const pending = (await store.pending(now())).filter((r) => holdsOne(caller, r.approvers));
      return { status: 200, body: { pending: pending.map(requestJson) } };
    },
    async approve(caller, id, forText) {
      const length = forText === undefined ? { ok: true as const, ms: config.default_grant } : typeof forText === 'string' ? parseDuration(forText) : { ok: false as const, error: "'for' must be a duration string such as 1h" };
      if (!length.ok) return refused(400, 'bad_request', length.error);
      if (length.ms > config.max_grant) return refused(400, 'grant_too_long', `longer than approvals.max_grant (${config.max_grant / 1000} s)`);
      const request = await decidable(caller, id);
      if ('status' in request) return request;
      const at = now();
      // Removing the request is the one atomic step: of two approvers at once, one wins.
      if (!(await store.takePending(id, at))) return refused(409, 'already_decided', 'decided by someone else or expired');
      const { subject, model, action, ruleId, approvers } = request;
      const grant: Grant = { id: newGrantId(), approvalId: id, subject, model, action, ruleId, approvers, approver: caller.subject, grantedAt: at, expiresAt: at + length.ms };
      await store.putGrant(grant, at);
      events({ kind: 'approval_granted', subject, model, action, ruleId, approvalId: id, grantId: grant.id, approver: caller.subject, inputSha256: request.inputSha256, expiresAt: grant.expiresAt, time: at });
      return { status: 200, body: { grant: grantJson(grant) } };
    },
    async deny(caller, id) {
      const request = await decidable(caller, id);
      if ('status' in request) return request;
      const at = now();
      if (!(await store.takePending(id, at))) return refused(409, 'already_decided', 'decided by someone else or expired');
      const { subject, model, action, ruleId } = request;
      events({ kind: 'approval_denied', subject, model, action, ruleId, approvalId: id, approver: caller.subject, inputSha256: request.inputSha256, time: at });
      return { status: 200, body: { denied: requestJson(request) } };
    },
    async grants(caller) {
      const live = (await store.grants(now())).filter((g) => holdsOne(caller, g.approvers) || g.subject === caller.subject);
      return { status: 200, body: { grants: live.map(grantJson) } };
    },
    async revoke(caller, id) {
      if (!id.startsWith('grt_') || !isWellFormedId(id)) return refused(400, 'bad_request', 'not a grant id');
      const at = now();
      const live = (await store.grants(at)).find((g) => g.id === id);
      if (!live) return refused(404, 'not_found', 'no live grant with this id');
      // Giving up one's own grant only narrows access; anyone else needs an approver role.
      if (!holdsOne(caller, live.approvers) && live.subject !== caller.subject) {
        return refused(403, 'not_an_approver', `requires one of the roles: ${live.approvers.join(', ')}`);
      }
      const grant = await store.revoke(id, at);
      if (!grant) return refused(404, 'not_found', 'no live grant with this id');
      const { subject, model, action, ruleId } = grant;
      events({ kind: 'grant_revoked', subject, model, action, ruleId, approvalId: grant.approvalId, grantId: id, approver: caller.subject, expiresAt: grant.expiresAt, time: at });
      return { status: 200, body: { revoked: grantJson(grant) } };
    },
  };
}

function requestJson(r: ApprovalRequest): Record<string, unknown> {
  return {
    id: r.id,
    subject: r.subject,
    model: r.model,
    action: r.action,
    input_sha256: r.inputSha256,
    rule_id: r.ruleId,
    approvers: r.approvers,
    created_at: new Date(r.createdAt).toISOString(),
    expires_at: new Date(r.expiresAt).toISOString(),
  };
}

function grantJson(g: Grant): Record<string, unknown> {
  return {
    id: g.id,
    approval_id: g.approvalId,
    subject: g.subject,
    model: g.model,
    action: g.action,
    rule_id: g.ruleId,
    approver: g.approver,
    granted_at: new Date(g.grantedAt).toISOString(),
    expires_at: new Date(g.expiresAt).toISOString(),
  };
}
