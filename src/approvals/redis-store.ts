// Pending requests and grants in Redis, shared by every replica. The Check's lookup is one GET of
// the grant key; everything else (opening a request, the approvers' calls) is off the allow path.
//
//   <prefix>g:<grantKey>   grant JSON, kept EXPIRED_RETENTION_MS past its expiry (expired-use refusal)
//   <prefix>gid:<grantId>  → grantKey, for revoke and listing
//   <prefix>grants         ZSET grant id → expiresAt (listing; stale members pruned there)
//   <prefix>p:<approvalId> request JSON until it stops pending
//   <prefix>pk:<pendingKey> → approval id, so the same request reuses its pending entry
//   <prefix>pending        ZSET approval id → expiresAt
// The default prefix holds one hash tag, so on Redis Cluster every key shares a slot.

import { connectRedis, type LimiterClient } from '../ratelimit/redis-connection.js';
import type { ApprovalsConfig } from './config.js';
import {
  EXPIRED_RETENTION_MS, grantKey, newApprovalId, pendingKey,
  type ApprovalRequest, type ApprovalStore, type Grant, type GrantLookup,
} from './store.js';

const NONE: GrantLookup = { state: 'none' };

export interface RedisApprovalStoreOptions {
  readonly redis: NonNullable<ApprovalsConfig['redis']>;
  readonly onError: (error: Error) => void;
}

export function redisApprovalStore(options: RedisApprovalStoreOptions): ApprovalStore {
  const { redis } = options;
  const client: LimiterClient = connectRedis({ url: redis.url, timeoutMs: redis.timeout_ms, tlsCaFile: redis.tls_ca_file, onError: options.onError });
  const p = redis.key_prefix;
  const k = {
    grant: (key: string) => `${p}g:${key}`,
    grantId: (id: string) => `${p}gid:${id}`,
    grants: `${p}grants`,
    request: (id: string) => `${p}p:${id}`,
    requestKey: (key: string) => `${p}pk:${key}`,
    pending: `${p}pending`,
  };

  const readRequest = async (id: string): Promise<ApprovalRequest | undefined> => {
    const text = await client.get(k.request(id));
    return text === null ? undefined : (JSON.parse(text) as ApprovalRequest);
  };

  return {
    async findGrant(subject, model, action, now) {
      const text = await client.get(k.grant(grantKey(subject, model, action)));
      if (text === null) return NONE;
      const grant = JSON.parse(text) as Grant;
      return grant.expiresAt > now ? { state: 'valid', grant } : { state: 'expired', grant };
    },
    async openRequest(draft, now, ttlMs) {
      const byKey = k.requestKey(pendingKey(draft));
      const existing = await client.get(byKey);
      const reused = existing === null ? undefined : await readRequest(existing);
      if (reused && reused.expiresAt > now) return { request: reused, created: false };
      const request: ApprovalRequest = { ...draft, id: newApprovalId(), createdAt: now, expiresAt: now + ttlMs };
      await client
        .multi()
        .set(k.request(request.id), JSON.stringify(request), 'PX', ttlMs)
        .set(byKey, request.id, 'PX', ttlMs)
        .zadd(k.pending, request.expiresAt, request.id)
        .zremrangebyscore(k.pending, '-inf', now)
        .exec();
      return { request, created: true };
    },
    async pending(now) {
      const ids = await client.zrangebyscore(k.pending, now + 1, '+inf');
      if (ids.length === 0) return [];
      const texts = await client.mget(...ids.map(k.request));
      return texts.flatMap((t) => (t === null ? [] : [JSON.parse(t) as ApprovalRequest]));
    },
    async findPending(id, now) {
      const request = await readRequest(id);
      return request && request.expiresAt > now ? request : undefined;
    },
    async takePending(id) {
      // DEL is the one atomic step: of two approvers deciding at once, only one removes it.
      const removed = await client.del(k.request(id));
      await client.zrem(k.pending, id);
      return removed === 1;
    },
    async putGrant(grant, now) {
      const key = grantKey(grant.subject, grant.model, grant.action);
      const ttl = Math.max(1, grant.expiresAt + EXPIRED_RETENTION_MS - now);
      await client
        .multi()
        .set(k.grant(key), JSON.stringify(grant), 'PX', ttl)
        .set(k.grantId(grant.id), key, 'PX', ttl)
        .zadd(k.grants, grant.expiresAt, grant.id)
        .zremrangebyscore(k.grants, '-inf', now - EXPIRED_RETENTION_MS)
        .exec();
    },
    async grants(now) {
      const ids = await client.zrangebyscore(k.grants, now + 1, '+inf');
      if (ids.length === 0) return [];
      const keys = await client.mget(...ids.map(k.grantId));
      const live = ids.flatMap((id, i) => (keys[i] ? [{ id, key: keys[i] }] : []));
      if (live.length === 0) return [];
      const texts = await client.mget(...live.map((l) => k.grant(l.key)));
      // A grant replaced by a newer approval for the same key is no longer listed under its old id.
      return texts.flatMap((t, i) => {
        if (t === null) return [];
        const grant = JSON.parse(t) as Grant;
        return grant.id === live[i]!.id && grant.expiresAt > now ? [grant] : [];
      });
    },
    async revoke(grantId, now) {
      const key = await client.get(k.grantId(grantId));
      if (key === null) return undefined;
      const text = await client.get(k.grant(key));
      const grant = text === null ? undefined : (JSON.parse(text) as Grant);
      const tx = client.multi().del(k.grantId(grantId)).zrem(k.grants, grantId);
      if (grant?.id === grantId) tx.del(k.grant(key));
      await tx.exec();
      return grant?.id === grantId && grant.expiresAt > now ? grant : undefined;
    },
    ready: () => client.status === 'ready',
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
