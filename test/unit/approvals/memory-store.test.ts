// The in-process store: a pending request is reused for the same input and not for another,
// expires, is decided once; a grant is scoped to (subject, model, action), expires into a refusal
// that is remembered for a while, and is revoked by id.

import { describe, expect, it } from 'vitest';
import { memoryApprovalStore } from '../../../src/approvals/memory-store.js';
import { EXPIRED_RETENTION_MS, newGrantId, type Grant } from '../../../src/approvals/store.js';

const draft = { subject: 'jwt:corp:ann', model: 'churn', action: 'predict', inputSha256: 'a'.repeat(64), ruleId: 'gated', approvers: ['lead'] };
const grantFor = (at: number, ms: number, over: Partial<Grant> = {}): Grant => ({
  id: newGrantId(), approvalId: 'apr_x', subject: draft.subject, model: 'churn', action: 'predict', ruleId: 'gated', approvers: ['lead'], approver: 'jwt:corp:lee', grantedAt: at, expiresAt: at + ms, ...over,
});

describe('memoryApprovalStore', () => {
  it('reuses the pending request for the same input, not for another input', async () => {
    const store = memoryApprovalStore();
    const first = await store.openRequest(draft, 1_000, 60_000);
    const again = await store.openRequest(draft, 2_000, 60_000);
    const other = await store.openRequest({ ...draft, inputSha256: 'b'.repeat(64) }, 2_000, 60_000);
    expect(first.created).toBe(true);
    expect(again).toEqual({ request: first.request, created: false });
    expect(other.created).toBe(true);
    expect(other.request.id).not.toBe(first.request.id);
    expect((await store.pending(2_000)).map((r) => r.id).sort()).toEqual([first.request.id, other.request.id].sort());
  });

  it('a pending request expires and is decided at most once', async () => {
    const store = memoryApprovalStore();
    const { request } = await store.openRequest(draft, 1_000, 60_000);
    expect(await store.findPending(request.id, 61_000)).toBeUndefined();
    const next = (await store.openRequest(draft, 61_000, 60_000)).request;
    expect(next.id).not.toBe(request.id);
    expect(await store.takePending(next.id, 62_000)).toBe(true);
    expect(await store.takePending(next.id, 62_000)).toBe(false);
  });

  it('a grant holds for its own subject, model and action only, then is refused as expired', async () => {
    const store = memoryApprovalStore();
    const grant = grantFor(0, 60_000);
    await store.putGrant(grant, 0);
    expect(await store.findGrant(draft.subject, 'churn', 'predict', 59_999)).toEqual({ state: 'valid', grant });
    expect(await store.findGrant(draft.subject, 'fraud', 'predict', 1)).toEqual({ state: 'none' });
    expect(await store.findGrant(draft.subject, 'churn', 'train', 1)).toEqual({ state: 'none' });
    expect(await store.findGrant('jwt:corp:bob', 'churn', 'predict', 1)).toEqual({ state: 'none' });
    expect(await store.findGrant(draft.subject, 'churn', 'predict', 60_000)).toEqual({ state: 'expired', grant });
    expect(await store.findGrant(draft.subject, 'churn', 'predict', 60_000 + EXPIRED_RETENTION_MS)).toEqual({ state: 'none' });
  });

  it('revokes by grant id; a replaced grant is no longer revocable under its old id', async () => {
    const store = memoryApprovalStore();
    const old = grantFor(0, 60_000);
    const renewed = grantFor(10, 120_000);
    await store.putGrant(old, 0);
    await store.putGrant(renewed, 10);
    expect(await store.revoke(old.id, 20)).toBeUndefined();
    expect(await store.grants(20)).toEqual([renewed]);
    expect(await store.revoke(renewed.id, 20)).toEqual(renewed);
    expect(await store.findGrant(draft.subject, 'churn', 'predict', 30)).toEqual({ state: 'none' });
  });
});
