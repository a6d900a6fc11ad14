// The approvals port: pending requests and grants, keyed by (qualified subject, model, action). One
// adapter keeps them in this process (memory-store.ts), the other shares them between replicas
// through Redis (redis-store.ts); only the composition root chooses.

import { createHash, randomBytes } from 'node:crypto';

/** A caller's request waiting for an approver. */
export interface ApprovalRequest {
  readonly id: string;
  readonly subject: string;
  readonly model: string;
  readonly action: string;
  /** SHA-256 (hex) of the request body bytes; of '' when the request had none. Never the body itself. */
  readonly inputSha256: string;
  readonly ruleId: string;
  /** The rule's approver roles when the request was made: what an approver must hold. */
  readonly approvers: readonly string[];
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Permission for one subject to call one model with one action until `expiresAt`. */
export interface Grant {
  readonly id: string;
  readonly approvalId: string;
  readonly subject: string;
  readonly model: string;
  readonly action: string;
  readonly ruleId: string;
  /** Copied from the request: who may revoke it. */
  readonly approvers: readonly string[];
  /** The approver's qualified subject. */
  readonly approver: string;
  readonly grantedAt: number;
  readonly expiresAt: number;
}

export type GrantLookup =
  | { readonly state: 'valid'; readonly grant: Grant }
  /** Kept a while after expiry, so a use after it is refused and recorded as such. */
  | { readonly state: 'expired'; readonly grant: Grant }
  | { readonly state: 'none' };

export type RequestDraft = Omit<ApprovalRequest, 'id' | 'createdAt' | 'expiresAt'>;

/**
 * Contract: every method resolves with values for every expected outcome (nothing pending, no grant,
 * already decided); it rejects only when the backend fails, and `findGrant` (the Check's hot path)
 * rejects within the adapter's timeout so the pipeline answers its fail-closed 503 in time.
 */
export interface ApprovalStore {
  /** One map read or one Redis GET. */
  findGrant(subject: string, model: string, action: string, now: number): Promise<GrantLookup>;
  /** A new pending request, or the one still pending for the same subject, model, action and input hash. */
  openRequest(draft: RequestDraft, now: number, ttlMs: number): Promise<{ readonly request: ApprovalRequest; readonly created: boolean }>;
  pending(now: number): Promise<ApprovalRequest[]>;
  findPending(id: string, now: number): Promise<ApprovalRequest | undefined>;
  /** Removes a pending request; false when it was no longer pending (decided by another approver, expired). */
  takePending(id: string, now: number): Promise<boolean>;
  /** Stores a grant, replacing any grant for the same subject, model and action. */
  putGrant(grant: Grant, now: number): Promise<void>;
  grants(now: number): Promise<Grant[]>;
  /** Removes a grant; undefined when no live grant has this id. */
  revoke(grantId: string, now: number): Promise<Grant | undefined>;
  /** Connected to its backend (always true in memory). */
  ready(): boolean;
  close(): Promise<void>;
}

/** How long an expired grant is remembered, so its later use is refused as `expired`, not silently. */
export const EXPIRED_RETENTION_MS = 3_600_000;

/** Ids are opaque, URL-safe and unguessable: one is all a deny body hands a caller. */
export const newApprovalId = (): string => `apr_${randomBytes(16).toString('base64url')}`;
export const newGrantId = (): string => `grt_${randomBytes(16).toString('base64url')}`;

const ID = /^(apr|grt)_[A-Za-z0-9_-]{22}$/;
/** Refuses anything else before it becomes part of a map or Redis key. */
export const isWellFormedId = (id: string): boolean => ID.test(id);

/** The grant key: a hash, so no subject or model text (which may hold ':') is ever parsed back out of it. */
export function grantKey(subject: string, model: string, action: string): string {
  return createHash('sha256').update(`${subject}\0${model}\0${action}`).digest('hex');
}

export function pendingKey(draft: Pick<RequestDraft, 'subject' | 'model' | 'action' | 'inputSha256'>): string {
  return createHash('sha256').update(`${draft.subject}\0${draft.model}\0${draft.action}\0${draft.inputSha256}`).digest('hex');
}
