// Every step of an approval, to the log and to the audit trail: requested, approved, denied,
// revoked, expired-use refused, grant used. Fire and forget: never awaited on the Check path, and a
// broken audit store is logged, never thrown.

import type { Logger } from 'pino';
import type { AuditRecord } from '../audit/record.js';
import type { AuditSink } from '../audit/sink.js';

export type ApprovalEventKind =
  | 'approval_requested'
  | 'approval_granted'
  | 'approval_denied'
  | 'grant_revoked'
  | 'grant_expired_refused'
  | 'grant_used';

export interface ApprovalEvent {
  readonly kind: ApprovalEventKind;
  readonly subject: string;
  readonly model: string;
  readonly action: string;
  readonly ruleId: string;
  readonly approvalId?: string;
  readonly grantId?: string;
  readonly approver?: string;
  readonly inputSha256?: string;
  /** Epoch ms: the pending request's or the grant's expiry. */
  readonly expiresAt?: number;
  /** The check's x-request-id, joining the record with Envoy's access log. */
  readonly requestId?: string;
  readonly time: number;
}

export type ApprovalEvents = (event: ApprovalEvent) => void;

export interface ApprovalEventsOptions {
  readonly logger: Logger;
  /** The audit store (in a cluster worker, the primary's through IPC); undefined without an audit section. */
  readonly sink: () => AuditSink | undefined;
}

export function approvalEvents(options: ApprovalEventsOptions): ApprovalEvents {
  const { logger } = options;
  return (event) => {
    const sink = options.sink();
    // A grant's use is already on the decision line (its detail names the grant); one more line per
    // allowed request would double the log volume of approved traffic.
    if (event.kind !== 'grant_used') logger.info(logFields(event), 'approval');
    if (!sink) return;
    sink.append([approvalRecord(event)]).catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error), approval_event: event.kind }, 'approval step not written to the audit store');
    });
  };
}

function logFields(e: ApprovalEvent): Record<string, unknown> {
  return {
    approval_event: e.kind,
    approval_id: e.approvalId,
    grant_id: e.grantId,
    subject: e.subject,
    model: e.model,
    action: e.action,
    rule_id: e.ruleId,
    approver: e.approver,
    input_sha256: e.inputSha256,
    expires_at: e.expiresAt === undefined ? undefined : new Date(e.expiresAt).toISOString(),
    request_id: e.requestId || undefined,
  };
}

/** An audit record of the one shape every record has; request fields it has no value for are empty. */
export function approvalRecord(e: ApprovalEvent): AuditRecord {
  return {
    time: new Date(e.time).toISOString(),
    request_id: e.requestId ?? '',
    source: { kind: 'modelgate_approvals', id: 'approvals' },
    method: '',
    authority: '',
    path: '',
    protocol: '',
    peer: { principal: '', uri_sans: [], dns_sans: [], certificate_subject: '' },
    subject: e.subject,
    auth_method: '',
    roles: [],
    tenant: '',
    model: e.model,
    gen_ai: { request: { model: e.model } },
    action: e.action,
    // Not a request decision: reports that count allows and denies must not count these twice.
    decision: 'none',
    decision_id: '',
    reason: e.kind,
    rule_id: e.ruleId,
    shadow_rules: [],
    response_code: 0,
    response_flags: [],
    response_code_details: '',
    duration_ms: 0,
    ext_authz_duration_ms: 0,
    bytes_received: 0,
    bytes_sent: 0,
    upstream_host: '',
    ratelimit: {},
    kept: {},
    approval: {
      event: e.kind,
      approval_id: e.approvalId,
      grant_id: e.grantId,
      approver: e.approver,
      input_sha256: e.inputSha256,
      expires_at: e.expiresAt === undefined ? undefined : new Date(e.expiresAt).toISOString(),
    },
  };
}
