// `limits.redis.batch` against a real Redis: the checks of one loop turn go out as one script call,
// and each still gets exactly the answer (and leaves exactly the buckets) one-by-one calls would.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH } from '../../../src/ratelimit/batch.js';
import { compileLimits } from '../../../src/ratelimit/compile.js';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import type { LimitOutcome, LimitRequest } from '../../../src/ratelimit/limiter.js';
import { RedisLimiter } from '../../../src/ratelimit/redis-limiter.js';
import { startRedis, startRedisCluster, type RedisServer } from '../../helpers/redis.js';

const NOW = 1_700_000_000_000;

const req = (subject: string, cost: number): LimitRequest => ({
  identity: { subject, method: 'api_key', roles: [], attributes: {} },
  model: 'm',
  action: 'infer',
  requestId: `${subject}-${cost}`,
  body: () => ({ cost }),
  now: NOW,
});

/** Two buckets per check (a call count and a cost budget), neither refilling during the test. */
function limiter(url: string, options: { batch: boolean; prefix: string; onBatch?: (checks: number) => void }): RedisLimiter {
  const config = limitsSchema.parse({
    redis: { url, timeout_ms: 5_000, batch: options.batch, key_prefix: options.prefix, deny_cache: false },
    buckets: [
      { id: 'calls', rate: 1, per: 'day', burst: 10, on_redis_error: 'fail_closed' },
      { id: 'budget', rate: 1, per: 'day', burst: 10, cost: { body_field: 'cost' }, on_redis_error: 'fail_closed' },
    ],
  });
  // The request's clock: both runs decide at the same instant, so their answers compare exactly.
  return new RedisLimiter(compileLimits(config), { clock: 'request', onBatch: options.onBatch });
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** EVALSHA / EVAL calls Redis counted since the last CONFIG RESETSTAT. */
async function scriptCalls(admin: Redis): Promise<{ evalsha: number; eval: number }> {
  const stats = await admin.info('commandstats');
  const calls = (cmd: string) => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return { evalsha: calls('evalsha'), eval: calls('eval') };
}

// Interleaved subjects; alice's third check needs 4 of her 2 remaining budget tokens, bob's second 2 of 1.
const CHECKS: ReadonlyArray<[string, number]> = [
  ['alice', 4], ['bob', 9], ['alice', 4], ['alice', 4], ['bob', 2], ['alice', 1], ['alice', 1], ['bob', 1],
];

describe('batched checks on a standalone Redis', () => {
  let redis: RedisServer;
  let admin: Redis;
  const batches: number[] = [];
  let batched: RedisLimiter;
  let single: RedisLimiter;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    batched = limiter(redis.url, { batch: true, prefix: 'batched:', onBatch: (n) => batches.push(n) });
    single = limiter(redis.url, { batch: false, prefix: 'single:' });
    await until(async () => (await batched.ready()) && (await single.ready()));
    // Load both scripts, so the counted calls below are all EVALSHA.
    await Promise.all([batched.take(req('warm-up', 1)), single.take(req('warm-up', 1))]);
    batches.length = 0;
  });
  afterAll(async () => {
    await batched?.close();
    await single?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it('decides one turn’s checks in one EVALSHA, each exactly as one-by-one calls decide it', async () => {
    await admin.config('RESETSTAT');
    const together = await Promise.all(CHECKS.map(([subject, cost]) => batched.take(req(subject, cost))));
    expect(batches).toEqual([CHECKS.length]);
    expect(await scriptCalls(admin)).toEqual({ evalsha: 1, eval: 0 });

    await admin.config('RESETSTAT');
    const oneByOne: LimitOutcome[] = [];
    for (const [subject, cost] of CHECKS) oneByOne.push(await single.take(req(subject, cost)));
    expect(await scriptCalls(admin)).toEqual({ evalsha: CHECKS.length, eval: 0 });

    expect(together).toEqual(oneByOne);
    expect(together.map((o) => o.allowed)).toEqual([true, true, true, false, false, true, true, true]);
    // All-or-none: the check denied by its budget charged its call count neither.
    expect(together[3]).toMatchObject({ reason: 'rate_limited', limitId: 'budget' });
    expect(together[5]!.metadata).toMatchObject({ ratelimit_bucket: 'budget', ratelimit_remaining: 1 });
    for (const subject of ['alice', 'bob']) {
      for (const bucket of ['calls', 'budget']) {
        const [a, b] = await Promise.all(['batched:', 'single:'].map((p) => admin.hgetall(`${p}{${subject}}:b:${bucket}`)));
        expect(a, `${subject} ${bucket}`).toEqual(b);
      }
    }
    expect(await admin.hget('batched:{alice}:b:calls', 't')).toBe('6');
    expect(await admin.hget('batched:{alice}:b:budget', 't')).toBe('0');
  });

  it('keeps a failing check’s error its own: the rest of its batch is answered by Redis', async () => {
    batches.length = 0;
    await admin.set('batched:{broken}:b:budget', 'not a hash');
    const [before, broken, after] = await Promise.all([
      batched.take(req('carol', 3)),
      batched.take(req('broken', 1)),
      batched.take(req('dave', 5)),
    ]);
    expect(batches).toEqual([3]);
    expect(broken).toMatchObject({ allowed: false, reason: 'limiter_unavailable', metadata: { ratelimit_error: 'redis_error' } });
    expect(before).toMatchObject({ allowed: true, metadata: { ratelimit_bucket: 'budget', ratelimit_remaining: 7 } });
    expect(after).toMatchObject({ allowed: true, metadata: { ratelimit_bucket: 'budget', ratelimit_remaining: 5 } });
    expect(before.metadata.ratelimit_fallback).toBeUndefined();
    expect(after.metadata.ratelimit_fallback).toBeUndefined();
    // Nothing was charged for the broken check.
    expect(await admin.exists('batched:{broken}:b:calls')).toBe(0);
    expect(batched.circuit).toBe('closed');
  });

  it(`splits a flood into calls of at most ${MAX_BATCH} checks, and allows exactly the capacity`, async () => {
    batches.length = 0;
    const outcomes = await Promise.all(Array.from({ length: 300 }, () => batched.take(req('flood', 0))));
    expect(batches).toEqual([MAX_BATCH, MAX_BATCH, 300 - 2 * MAX_BATCH]);
    expect(outcomes.filter((o) => o.allowed)).toHaveLength(10);
    expect(outcomes.filter((o) => !o.allowed && o.reason === 'rate_limited')).toHaveLength(290);
  });
});

describe('batch switched on for a Redis Cluster', () => {
  it('keeps one script call per check, with the same answers', async () => {
    const cluster = await startRedisCluster();
    const batches: number[] = [];
    const onCluster = limiter(cluster.url, { batch: true, prefix: 'c:', onBatch: (n) => batches.push(n) });
    try {
      await until(() => onCluster.ready());
      const outcomes = await Promise.all(CHECKS.map(([subject, cost]) => onCluster.take(req(subject, cost))));
      expect(outcomes.map((o) => o.allowed)).toEqual([true, true, true, false, false, true, true, true]);
      expect(batches).toEqual([]);
    } finally {
      await onCluster.close();
      await cluster.stop();
    }
  });
});
