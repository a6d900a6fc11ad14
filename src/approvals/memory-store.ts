// Pending requests and grants in this process: one replica only (replicas do not see each other's
// grants; use approvals.redis for more). Expired entries are dropped as they are met and on listing.

import {
  EXPIRED_RETENTION_MS, grantKey, newApprovalId, pendingKey,
  type ApprovalRequest, type ApprovalStore, type Grant, type GrantLookup, type RequestDraft,
} from './store.js';

const NONE: GrantLookup = { state: 'none' };

export function memoryApprovalStore(): ApprovalStore {
  const requests = new Map<string, ApprovalRequest>();
  const requestByKey = new Map<string, string>();
  const grants = new Map<string, Grant>(); // by grantKey
  const grantById = new Map<string, string>(); // grant id → grantKey

  const livePending = (id: string, now: number): ApprovalRequest | undefined => {
    const request = requests.get(id);
    if (request && request.expiresAt <= now) {
      dropPending(request);
      return undefined;
    }
    return request;
  };
  const dropPending = (request: ApprovalRequest) => {
    requests.delete(request.id);
    const key = pendingKey(request);
    if (requestByKey.get(key) === request.id) requestByKey.delete(key);
  };
  const dropGrant = (grant: Grant) => {
    const key = grantKey(grant.subject, grant.model, grant.action);
    if (grants.get(key)?.id === grant.id) grants.delete(key);
    grantById.delete(grant.id);
  };

  return {
    async findGrant(subject, model, action, now) {
      const grant = grants.get(grantKey(subject, model, action));
      if (!grant) return NONE;
      if (grant.expiresAt > now) return { state: 'valid', grant };
      if (grant.expiresAt + EXPIRED_RETENTION_MS <= now) {
        dropGrant(grant);
        return NONE;
      }
      return { state: 'expired', grant };
    },
    async openRequest(draft: RequestDraft, now, ttlMs) {
      const key = pendingKey(draft);
      const existing = requestByKey.get(key);
      const reused = existing === undefined ? undefined : livePending(existing, now);
      if (reused) return { request: reused, created: false };
      const request: ApprovalRequest = { ...draft, id: newApprovalId(), createdAt: now, expiresAt: now + ttlMs };
      requests.set(request.id, request);
      requestByKey.set(key, request.id);
      return { request, created: true };
    },
    async pending(now) {
      return [...requests.keys()].map((id) => livePending(id, now)).filter((r): r is ApprovalRequest => r !== undefined);
    },
    async findPending(id, now) {
      return livePending(id, now);
    },
    async takePending(id, now) {
      const request = livePending(id, now);
      if (!request) return false;
      dropPending(request);
      return true;
    },
    async putGrant(grant) {
      const key = grantKey(grant.subject, grant.model, grant.action);
      const old = grants.get(key);
      if (old) grantById.delete(old.id);
      grants.set(key, grant);
      grantById.set(grant.id, key);
    },
    async grants(now) {
      return [...grants.values()].filter((g) => g.expiresAt > now);
    },
    async revoke(grantId, now) {
      const key = grantById.get(grantId);
      const grant = key === undefined ? undefined : grants.get(key);
      if (!grant || grant.id !== grantId) return undefined;
      dropGrant(grant);
      return grant.expiresAt > now ? grant : undefined;
    },
    ready: () => true,
    async close() {},
  };
}
