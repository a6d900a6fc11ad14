// The Redis limiter on Redis's own clock: idle keys expire, blocks escalate and every replica sees
// them, the load factor slows refills, shadow limits never deny, the 429 outcome carries what the
// client needs, and `modelgate limits show|reset` read and clear a subject.

import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { compileLimits } from '../../../src/ratelimit/compile.js';
import { inspectSubject } from '../../../src/ratelimit/inspect.js';
import type { LimitRequest } from '../../../src/ratelimit/limiter.js';
import { RedisLimiter } from '../../../src/ratelimit/redis-limiter.js';
import { register } from '../../../src/cli/commands/limits.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../../helpers/redis.js';

const req = (subject: string, model = 'm'): LimitRequest => ({
  identity: { subject, method: 'jwt', roles: [], attributes: {} },
  model,
  action: 'infer',
  requestId: 'r',
  body: () => undefined,
  now: Date.now(),
});

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `limits.redis.batch` for the limiters made next: the standalone cases run with it off and on. */
let batch = false;

async function limiterFor(url: string, section: Record<string, unknown>, ttlPadMs?: number): Promise<RedisLimiter> {
  const config = limitsSchema.parse({ ...section, redis: { url, timeout_ms: 2_000, batch, ...(section.redis as object) } });
  const limiter = new RedisLimiter(compileLimits(config), ttlPadMs === undefined ? {} : { ttlPadMs });
  await until(() => limiter.ready());
  return limiter;
}

/** Runs `modelgate limits …` in-process and returns what it printed. */
async function cli(...args: string[]): Promise<string> {
  const program = new Command('modelgate').exitOverride();
  register(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'modelgate', 'limits', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

describe.each([{ batched: false }, { batched: true }])('standalone redis (batch: $batched)', ({ batched }) => {
  let redis: RedisServer;
  let admin: Redis;
  const open: RedisLimiter[] = [];
  const track = (l: RedisLimiter) => (open.push(l), l);

  beforeAll(async () => {
    batch = batched;
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    batch = false;
    await Promise.all(open.map((l) => l.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  it('lets idle keys expire once their bucket would be full again', async () => {
    const limiter = track(await limiterFor(redis.url, { buckets: [{ id: 'fast', rate: 10, burst: 5 }] }, 100));
    for (let i = 0; i < 5; i++) expect((await limiter.take(req('idle'))).allowed).toBe(true);
    const key = 'modelgate:rl:{idle}:b:fast';
    const ttl = await admin.pttl(key);
    // 5 tokens at 10/s: full after 500 ms, plus the 100 ms padding.
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
    await until(async () => (await admin.exists(key)) === 0, 5_000);
  });

  it('answers 429 material: reason, Retry-After, RateLimit headers and metadata', async () => {
    const limiter = track(await limiterFor(redis.url, { buckets: [{ id: 'per-minute', rate: 2, per: 'minute' }] }));
    expect(await limiter.take(req('c429'))).toMatchObject({
      allowed: true,
      responseHeaders: [['ratelimit-policy', '"per-minute";q=2;w=60'], ['ratelimit', '"per-minute";r=1;t=30']],
      metadata: { ratelimit_bucket: 'per-minute', ratelimit_limit: 2, ratelimit_remaining: 1 },
    });
    await limiter.take(req('c429'));
    const denied = await limiter.take(req('c429'));
    expect(denied.allowed).toBe(false);
    if (denied.allowed) return;
    expect(denied.reason).toBe('rate_limited');
    expect(denied.limitId).toBe('per-minute');
    expect(denied.retryAfterSeconds).toBeGreaterThanOrEqual(29);
    expect(denied.retryAfterSeconds).toBeLessThanOrEqual(30);
    expect(denied.responseHeaders).toContainEqual(['retry-after', String(denied.retryAfterSeconds)]);
    expect(denied.responseHeaders.find(([name]) => name === 'ratelimit')?.[1]).toMatch(/^"per-minute";r=0;t=(59|60)$/);
    // The next deny comes from the local over-limit cache, without a Redis round trip.
    const cached = await limiter.take(req('c429'));
    expect(cached).toMatchObject({ allowed: false, reason: 'rate_limited', metadata: { ratelimit_cached: 1 } });
  });

  it('blocks repeat offenders with growing blocks that every replica sees', async () => {
    const section = {
      buckets: [{ id: 'b', rate: 1, burst: 1 }],
      block: { after_violations: 2, window_seconds: 10, base_seconds: 1, factor: 2, max_seconds: 60 },
    };
    const [a, b] = [track(await limiterFor(redis.url, section)), track(await limiterFor(redis.url, section))];
    expect((await a.take(req('abuser'))).allowed).toBe(true);
    expect(await b.take(req('abuser'))).toMatchObject({ allowed: false, reason: 'rate_limited' });
    expect(await a.take(req('abuser'))).toMatchObject({ allowed: false, reason: 'temporarily_blocked', retryAfterSeconds: 1 });
    expect(await b.take(req('abuser'))).toMatchObject({ allowed: false, reason: 'temporarily_blocked' });
    expect((await b.take(req('someone-else'))).allowed).toBe(true);

    await until(async () => (await a.take(req('abuser'))).allowed, 5_000);
    await b.take(req('abuser'));
    expect(await b.take(req('abuser'))).toMatchObject({ allowed: false, reason: 'temporarily_blocked', retryAfterSeconds: 2 });
    const state = await inspectSubject(admin, 'modelgate:rl:', 'abuser');
    expect(state.strikes).toBe(2);
    expect(state.blockedUntilMs! - state.redisNowMs).toBeGreaterThan(1_000);
  });

  it('scales refill by the operator’s load factor', async () => {
    const section = { buckets: [{ id: 'b', rate: 1, burst: 1 }], load_factor: { key: 'lf:test', refresh_ms: 20, min: 0.05 } };
    const limiter = track(await limiterFor(redis.url, section));
    await limiter.take(req('hot'));
    expect(await limiter.take(req('hot'))).toMatchObject({ retryAfterSeconds: 1 });
    await admin.set('lf:test', '0.1');
    await until(async () => limiter.scale === 0.1);
    expect(await limiter.take(req('hot-2'))).toMatchObject({ allowed: true });
    const slow = await limiter.take(req('hot-2'));
    expect(slow).toMatchObject({ allowed: false, retryAfterSeconds: 10 });
    await admin.set('lf:test', 'garbage');
    await until(async () => limiter.scale === 1);
  });

  it('counts shadow limits without ever denying for them', async () => {
    const limiter = track(
      await limiterFor(redis.url, { buckets: [{ id: 'real', rate: 100, burst: 100 }, { id: 'trial', rate: 1, per: 'hour', burst: 2, shadow: true }] }),
    );
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await limiter.take(req('shadowed')));
    expect(outcomes.map((o) => o.allowed)).toEqual([true, true, true, true, true]);
    expect(outcomes.map((o) => o.shadowDenied)).toEqual([[], [], ['trial'], ['trial'], ['trial']]);
  });

  it('modelgate limits show / reset read and clear one subject, named as in the decision log', async () => {
    // Qualified, as every subject is: its `:`s are escaped in the key, and the CLI finds it as typed.
    const OPS = 'jwt:corp:ops';
    const limiter = track(await limiterFor(redis.url, { buckets: [{ id: 'per-model', rate: 1, per: 'hour', burst: 1, per_model: true }] }));
    await limiter.take(req(OPS, 'llama:70b'));
    expect((await limiter.take(req(OPS, 'llama:70b'))).allowed).toBe(false);
    await limiter.take(req('jwt:corp:bystander'));

    const shown = JSON.parse(await cli('show', OPS, '--redis', redis.url, '--json'));
    expect(shown.buckets).toEqual([expect.objectContaining({ bucketId: 'per-model', model: 'llama:70b', tokens: 0 })]);
    expect(await cli('show', OPS, '--redis', redis.url)).toMatch(/per-model \[llama:70b\]: 0\.00 tokens, forgotten in \d+ s/);
    expect(await cli('reset', OPS, '--redis', redis.url)).toBe(`reset ${OPS}: 1 key removed\n`);
    expect(await cli('show', OPS, '--redis', redis.url)).toContain('no buckets stored');
    expect(await admin.exists('modelgate:rl:{jwt%3Acorp%3Abystander}:b:per-model:m')).toBe(1);
  });
});

describe('redis cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('blocks, inspects and resets a subject whose keys share one slot', async () => {
    const section = {
      buckets: [{ id: 'a', rate: 1, per: 'hour', burst: 1 }, { id: 'b', rate: 10, per: 'hour', per_model: true }],
      block: { after_violations: 1, base_seconds: 30 },
    };
    const limiter = await limiterFor(cluster.url, section);
    try {
      expect((await limiter.take(req('clustered'))).allowed).toBe(true);
      expect(await limiter.take(req('clustered'))).toMatchObject({ reason: 'temporarily_blocked', retryAfterSeconds: 30 });
      const shown = JSON.parse(await cli('show', 'clustered', '--redis', cluster.url, '--json'));
      expect(shown.buckets.map((b: { bucketId: string }) => b.bucketId)).toEqual(['a', 'b']);
      expect(shown.strikes).toBe(1);
      expect(await cli('reset', 'clustered', '--redis', cluster.url)).toBe('reset clustered: 4 keys removed\n');
      const fresh = await limiterFor(cluster.url, section);
      expect((await fresh.take(req('clustered'))).allowed).toBe(true);
      await fresh.close();
    } finally {
      await limiter.close();
    }
  });
});

describe('redis over TLS', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ tls: true });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('connects with a rediss:// url and the configured CA', async () => {
    expect(redis.url).toMatch(/^rediss:\/\//);
    const limiter = await limiterFor(redis.url, { redis: { tls_ca_file: redis.caFile }, buckets: [{ id: 'b', rate: 1, per: 'hour', burst: 1 }] });
    try {
      const first = await limiter.take(req('secure'));
      expect(first.allowed).toBe(true);
      expect(first.metadata.ratelimit_fallback).toBeUndefined();
      expect(await limiter.take(req('secure'))).toMatchObject({ allowed: false, reason: 'rate_limited' });
    } finally {
      await limiter.close();
    }
  });
});
