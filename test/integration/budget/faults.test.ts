// Budgets when Redis fails: fail_closed (the default) answers limiter_unavailable; fail_open charges
// the replica's memory ledger, and settlement finds reservations made there. With
// limits.redis.batch, checks with budgets still get their own admission script.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { chat, ledgerFor, reservationOf, T0 } from '../../helpers/budget/ledgers.js';

describe('budgets when redis is down', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('fail_closed answers limiter_unavailable; fail_open charges the local ledger and settles there', async () => {
    const closed = await ledgerFor('closed', redis.url, { budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }] });
    const open = await ledgerFor('open', redis.url, { budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day', on_redis_error: 'fail_open' }] });
    try {
      expect((await closed.limiter.take(chat())).allowed).toBe(true);
      await redis.kill();
      expect(await closed.limiter.take(chat())).toMatchObject({ allowed: false, reason: 'limiter_unavailable' });
      const local = await open.limiter.take(chat());
      expect(local).toMatchObject({ allowed: true, metadata: { ratelimit_fallback: 'local', budget_remaining: 300 - 203 } });
      expect(await open.limiter.take(chat({ now: T0 + 1 }))).toMatchObject({ allowed: false, reason: 'budget_exhausted' });
      expect(await open.settler.settle({ reservationId: reservationOf(local), usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 }, failed: false, now: T0 + 2 })).toMatchObject({ outcome: 'settled' });
      expect(await open.limiter.take(chat({ now: T0 + 3 }))).toMatchObject({ allowed: true, metadata: { budget_remaining: 300 - 2 - 203 } });
      // A reservation nobody knows: Redis cannot answer, the local ledger never saw it.
      expect(await open.settler.settle({ reservationId: 'YQ.AAAAAAAAAAAAAAAAAAAAAA', usage: undefined, failed: false, now: T0 + 4 })).toEqual({ outcome: 'error' });
    } finally {
      await closed.close();
      await open.close();
      await redis.restart();
    }
  });

  it('a replica that restarts between admission and settlement loses nothing: another settles by id', async () => {
    const budgets = { budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }] };
    const first = await ledgerFor('a', `${redis.url}/4`, budgets);
    const id = reservationOf(await first.limiter.take(chat()));
    await first.close();
    const second = await ledgerFor('b', `${redis.url}/4`, budgets);
    try {
      expect(await second.limiter.take(chat({ now: T0 + 1 }))).toMatchObject({ allowed: false, reason: 'budget_exhausted', bodyExtra: { remaining: 97 } });
      expect(await second.settler.settle({ reservationId: id, usage: { inputTokens: 10, outputTokens: 0, cachedInputTokens: 0 }, failed: false, now: T0 + 2 })).toMatchObject({ outcome: 'settled' });
      expect(await second.limiter.take(chat({ now: T0 + 3 }))).toMatchObject({ allowed: true, metadata: { budget_remaining: 300 - 10 - 203 } });
    } finally {
      await second.close();
    }
  });

  it('the deny cache never remembers a budget refusal: freed budget admits at once', async () => {
    const ledger = await ledgerFor('cache', `${redis.url}/5`, { budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }] }, { redis: { deny_cache: true }, buckets: [{ id: 'rpm', rate: 0, burst: 100 }] });
    try {
      const id = reservationOf(await ledger.limiter.take(chat()));
      expect(await ledger.limiter.take(chat({ now: T0 + 1 }))).toMatchObject({ allowed: false, reason: 'budget_exhausted' });
      await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 }, failed: false, now: T0 + 2 });
      expect(await ledger.limiter.take(chat({ now: T0 + 3 }))).toMatchObject({ allowed: true, metadata: { ratelimit_remaining: 98 } });
    } finally {
      await ledger.close();
    }
  });

  it('with limits.redis.batch, a check with budgets is its own admission call, all or none', async () => {
    const ledger = await ledgerFor('batch', `${redis.url}/3`, { budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 500, period: 'day' }] }, { redis: { batch: true }, buckets: [{ id: 'rpm', rate: 0, burst: 100 }] });
    try {
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => ledger.limiter.take(chat())));
      expect(outcomes.map((o) => o.allowed)).toEqual([true, true, false, false, false]);
      expect(outcomes[1]!.metadata).toMatchObject({ ratelimit_remaining: 98 });
      expect(await ledger.settler.settle({ reservationId: 'garbage', usage: undefined, failed: false, now: T0 })).toEqual({ outcome: 'unknown' });
    } finally {
      await ledger.close();
    }
  });
});
