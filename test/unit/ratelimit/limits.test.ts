// Which buckets apply to a request, what it costs, and what the client is told, through the
// embedded in-memory limiter with an injected clock.

import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { compileLimits } from '../../../src/ratelimit/compile.js';
import { bucketKey, parseBucketKey, subjectPattern } from '../../../src/ratelimit/keys.js';
import type { LimitRequest } from '../../../src/ratelimit/limiter.js';
import { MemoryLimiter } from '../../../src/ratelimit/memory-limiter.js';
import { MemoryStore } from '../../../src/ratelimit/memory-store.js';

const T = 1_700_000_000_000;

function req(over: Partial<LimitRequest> & { roles?: string[]; tier?: string; subject?: string } = {}): LimitRequest {
  const { roles = [], tier, subject = 'alice', ...rest } = over;
  return {
    identity: { subject, method: 'jwt', roles, attributes: tier === undefined ? {} : { plan: tier } },
    model: 'llama-3-8b',
    action: 'infer',
    requestId: 'r1',
    body: () => undefined,
    now: T,
    ...rest,
  };
}

const limits = limitsSchema.parse({
  tier_attribute: 'plan',
  buckets: [
    { id: 'everyone', rate: 100, per: 'minute' },
    { id: 'admins', rate: 1000, per: 'minute', match: { roles: ['admin'] } },
    { id: 'free', rate: 10, per: 'minute', match: { tiers: ['free'] } },
    { id: 'bots', rate: 5, per: 'minute', match: { subjects: ['bot-*'] } },
    { id: 'llama', rate: 50, per: 'minute', per_model: true, match: { models: ['llama-*'] } },
    { id: 'tokens', rate: 10_000, per: 'minute', match: { models: ['llama-*'] }, cost: { body_field: 'params.max_tokens', default: 256, model_weights: { '*-70b': 4 } } },
  ],
});
const compiled = compileLimits(limits);
const ids = (r: LimitRequest) => compiled.plan(r).charges.map((c) => c.bucketId);

describe('planning', () => {
  it('attaches buckets by role, tier attribute, subject glob and model glob', () => {
    expect(ids(req())).toEqual(['everyone', 'llama', 'tokens']);
    expect(ids(req({ roles: ['admin'], model: 'gpt-4' }))).toEqual(['everyone', 'admins']);
    expect(ids(req({ tier: 'free', model: 'x' }))).toEqual(['everyone', 'free']);
    expect(ids(req({ subject: 'bot-7', model: 'x' }))).toEqual(['everyone', 'bots']);
  });

  it('prices by a body field, falls back to the default cost, and applies model weights', () => {
    const cost = (r: LimitRequest) => compiled.plan(r).charges.find((c) => c.bucketId === 'tokens')?.cost;
    expect(cost(req({ body: () => ({ params: { max_tokens: 100 } }) }))).toBe(100);
    expect(cost(req({ body: () => undefined }))).toBe(256);
    expect(cost(req({ body: () => ({ params: { max_tokens: '100' } }) }))).toBe(256);
    expect(cost(req({ body: () => ({ params: { max_tokens: -5 } }) }))).toBe(256);
    expect(cost(req({ model: 'llama-3-70b', body: () => ({ params: { max_tokens: 100 } }) }))).toBe(400);
  });

  it('reads the body only for limits that price by it', () => {
    let reads = 0;
    compiled.plan(req({ model: 'gpt-4', body: () => (reads++, undefined) }));
    expect(reads).toBe(0);
  });

  it('keys every bucket of a subject under one hash tag, per model when asked', () => {
    const plan = compiled.plan(req({ subject: 'a{b}:c*' }));
    expect(plan.charges.map((c) => c.key)).toEqual([
      'modelgate:rl:{a%7Bb%7D%3Ac%2A}:b:everyone',
      'modelgate:rl:{a%7Bb%7D%3Ac%2A}:b:llama:llama-3-8b',
      'modelgate:rl:{a%7Bb%7D%3Ac%2A}:b:tokens',
    ]);
    expect(plan.keys.block).toBe('modelgate:rl:{a%7Bb%7D%3Ac%2A}:block');
    expect(subjectPattern('p*:', 'a{b}')).toBe('p\\*:{a%7Bb%7D}:*');
    expect(parseBucketKey('p:', 's', bucketKey('p:', 's', 'x', 'm:1'))).toEqual({ bucketId: 'x', model: 'm:1' });
  });
});

describe('answers', () => {
  it('allows with the IETF draft headers and budget metadata for the tightest bucket', async () => {
    const limiter = new MemoryLimiter(compileLimits(limitsSchema.parse({ buckets: [{ id: 'min', rate: 120, per: 'minute' }, { id: 'sec', rate: 20, burst: 20 }] })));
    const outcome = await limiter.take(req());
    expect(outcome).toEqual({
      allowed: true,
      responseHeaders: [
        ['ratelimit-policy', '"min";q=120;w=60, "sec";q=20;w=1'],
        ['ratelimit', '"sec";r=19;t=1'],
      ],
      metadata: { ratelimit_bucket: 'sec', ratelimit_limit: 20, ratelimit_remaining: 19, ratelimit_reset: 1, ratelimit_cost: 1 },
      shadowDenied: [],
    });
  });

  it('denies with Retry-After and X-RateLimit-* headers when configured', async () => {
    const limiter = new MemoryLimiter(compileLimits(limitsSchema.parse({ headers: 'x_ratelimit', buckets: [{ id: 'b', rate: 6, per: 'minute', burst: 2 }] })));
    await limiter.take(req());
    await limiter.take(req());
    const outcome = await limiter.take(req({ now: T + 1_000 }));
    expect(outcome).toEqual({
      allowed: false,
      reason: 'rate_limited',
      retryAfterSeconds: 9,
      limitId: 'b',
      // The deny body carries the same numbers as the headers, and the reset as a time.
      bodyExtra: { bucket: 'b', remaining: 0, reset_seconds: 19, reset_at: new Date(T + 1_000 + 19_000).toISOString(), retry_after: 9 },
      responseHeaders: [
        ['x-ratelimit-limit', '2'],
        ['x-ratelimit-remaining', '0'],
        ['x-ratelimit-reset', '19'],
        ['retry-after', '9'],
      ],
      metadata: { ratelimit_bucket: 'b', ratelimit_limit: 2, ratelimit_remaining: 0, ratelimit_reset: 19, ratelimit_cost: 1 },
      shadowDenied: [],
    });
  });

  it('keeps subjects apart and resets one subject on demand', async () => {
    const limiter = new MemoryLimiter(compileLimits(limitsSchema.parse({ buckets: [{ id: 'b', rate: 1, per: 'hour' }] })));
    expect((await limiter.take(req())).allowed).toBe(true);
    expect((await limiter.take(req())).allowed).toBe(false);
    expect((await limiter.take(req({ subject: 'bob' }))).allowed).toBe(true);
    expect(await limiter.reset('alice')).toBe(1);
    expect((await limiter.take(req())).allowed).toBe(true);
  });
});

describe('memory bound', () => {
  it('a cache store never holds more than its maximum, forgetting what expires first', () => {
    const store = new MemoryStore(100);
    for (let i = 0; i < 1_000; i++) store.view(T).setBucket(`k${i}`, { tokens: 0, at: T }, 60_000 + i);
    expect(store.size).toBe(100);
    expect(store.view(T).getBucket('k999')).toBeDefined();
    expect(store.view(T).getBucket('k0')).toBeUndefined();
  });

  it('drops idle entries once they expire on the injected clock', () => {
    const store = new MemoryStore(100);
    for (let i = 0; i < 50; i++) store.view(T).setBucket(`old${i}`, { tokens: 0, at: T }, 1_000);
    for (let i = 0; i < 30; i++) store.view(T + 5_000).setBucket(`new${i}`, { tokens: 0, at: T }, 1_000);
    expect(store.size).toBe(30);
  });

  it('a lossless store admits a new key only by forgetting an expired one, never a live one', () => {
    const store = new MemoryStore(3, 'lossless');
    const at = store.view(T);
    at.setBucket('a', { tokens: 0, at: T }, 60_000);
    at.setBucket('b', { tokens: 0, at: T }, 1_000);
    at.setBucket('c', { tokens: 0, at: T }, 60_000);
    expect(store.admit(['a'], T)).toBe(true); // already there: no room needed
    expect(store.admit(['d'], T)).toBe(false);
    expect(store.size).toBe(3);
    expect(store.admit(['d'], T + 1_000)).toBe(true); // b is full again: forgetting it is invisible
    expect(store.size).toBe(2);
    expect(store.view(T + 1_000).getBucket('a')).toBeDefined();
    expect(store.view(T + 1_000).getBucket('c')).toBeDefined();
  });

  // Issue 13, finding 8: LRU eviction used to refill an exhausted bucket once more than
  // memory_max_entries other subjects had been seen.
  const tight = (memory_max_entries: number, on_redis_error: 'fail_open' | 'fail_closed') =>
    compileLimits(limitsSchema.parse({ memory_max_entries, buckets: [{ id: 'b', rate: 1, per: 'hour', on_redis_error }] }));

  it('keeps an exhausted bucket however many other subjects come by', async () => {
    const limiter = new MemoryLimiter(tight(10, 'fail_open'));
    expect((await limiter.take(req({ subject: 'alice' }))).allowed).toBe(true);
    expect((await limiter.take(req({ subject: 'alice' }))).allowed).toBe(false);
    for (let i = 0; i < 50; i++) await limiter.take(req({ subject: `other-${i}`, now: T + i }));
    const again = await limiter.take(req({ subject: 'alice', now: T + 60 }));
    expect(again).toMatchObject({ allowed: false, reason: 'rate_limited' });
  });

  it('answers a subject with no room by the bucket fail mode, naming memory_full', async () => {
    const open = new MemoryLimiter(tight(10, 'fail_open'));
    const closed = new MemoryLimiter(tight(10, 'fail_closed'));
    for (const limiter of [open, closed]) {
      for (let i = 0; i < 10; i++) expect((await limiter.take(req({ subject: `s${i}` }))).allowed).toBe(true);
    }
    // fail_open: the newcomer's bucket cannot be stored, so it passes uncounted, and says why.
    for (let i = 0; i < 3; i++) {
      expect(await open.take(req({ subject: 'newcomer' }))).toMatchObject({ allowed: true, metadata: { ratelimit_error: 'memory_full' } });
    }
    expect(await closed.take(req({ subject: 'newcomer' }))).toMatchObject({ allowed: false, reason: 'limiter_unavailable', metadata: { ratelimit_error: 'memory_full' } });
    // Stored subjects keep being counted: their entries need no new room.
    expect(await open.take(req({ subject: 's0' }))).toMatchObject({ allowed: false, reason: 'rate_limited' });
    expect(await closed.take(req({ subject: 's0' }))).toMatchObject({ allowed: false, reason: 'rate_limited' });
    // An hour on, s0..s9 are full again, so forgetting them is lossless and the newcomer fits.
    expect(await closed.take(req({ subject: 'newcomer', now: T + 3_600_000 }))).toMatchObject({ allowed: true, metadata: { ratelimit_remaining: 0 } });
    expect(await closed.take(req({ subject: 'newcomer', now: T + 3_600_001 }))).toMatchObject({ allowed: false, reason: 'rate_limited' });
  });

  it('never lets a full store spare a deny: a stored empty bucket still denies when a new one has no room', async () => {
    const compiled = compileLimits(
      limitsSchema.parse({
        memory_max_entries: 2,
        buckets: [
          { id: 'caller', rate: 1, per: 'hour' },
          { id: 'per-model', rate: 100, per: 'hour', per_model: true },
        ],
      }),
    );
    const limiter = new MemoryLimiter(compiled);
    expect((await limiter.take(req({ subject: 'alice', model: 'a' }))).allowed).toBe(true); // caller + per-model[a]
    expect(await limiter.take(req({ subject: 'bob', model: 'a' }))).toMatchObject({ allowed: true, metadata: { ratelimit_error: 'memory_full' } });
    // per-model[b] has no room; alice's stored, empty caller bucket denies all the same.
    expect(await limiter.take(req({ subject: 'alice', model: 'b' }))).toMatchObject({ allowed: false, reason: 'rate_limited', metadata: { ratelimit_bucket: 'caller', ratelimit_error: 'memory_full' } });
  });

  it('keeps block state however full the store is', async () => {
    const compiled = compileLimits(
      limitsSchema.parse({
        memory_max_entries: 2,
        block: { after_violations: 2, window_seconds: 60, base_seconds: 600, factor: 2, max_seconds: 3600 },
        buckets: [{ id: 'b', rate: 1, per: 'hour', on_redis_error: 'fail_closed' }],
      }),
    );
    const limiter = new MemoryLimiter(compiled);
    expect((await limiter.take(req({ subject: 'alice' }))).allowed).toBe(true);
    expect(await limiter.take(req({ subject: 'alice' }))).toMatchObject({ allowed: false, reason: 'rate_limited' });
    expect(await limiter.take(req({ subject: 'alice' }))).toMatchObject({ allowed: false, reason: 'temporarily_blocked' });
    expect(await limiter.take(req({ subject: 'bob' }))).toMatchObject({ allowed: false, reason: 'limiter_unavailable' });
    expect(await limiter.take(req({ subject: 'alice', now: T + 1_000 }))).toMatchObject({ allowed: false, reason: 'temporarily_blocked' });
  });
});
