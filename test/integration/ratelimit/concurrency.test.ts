// Two limiter instances (one in a child process, each with its own ioredis client) sharing one
// Redis: 1,000 concurrent takes against a bucket of 100 allow exactly 100. Standalone and cluster.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { createLimiter } from '../../../src/ratelimit/create-limiter.js';
import type { Limiter, LimitOutcome } from '../../../src/ratelimit/limiter.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../../helpers/redis.js';

const TAKER = fileURLToPath(new URL('../../helpers/ratelimit/taker.ts', import.meta.url));

/** A bucket of 100 that does not refill during the test; generous timeout so no take falls back. */
const limitsFor = (url: string, batch = false) => ({
  redis: { url, timeout_ms: 5_000, batch },
  buckets: [{ id: 'hundred', rate: 1, per: 'day', burst: 100, on_redis_error: 'fail_closed' }],
});

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function take(limiter: Limiter, subject: string, i: number): Promise<LimitOutcome> {
  return limiter.take({
    identity: { subject, method: 'api_key', roles: [], attributes: {} },
    model: 'm',
    action: 'infer',
    requestId: `parent-${i}`,
    body: () => undefined,
    now: Date.now(),
  });
}

interface Counts {
  allowed: number;
  denied: number;
  other: number;
}

/** Starts the child limiter, waits for "ready", and returns a trigger that resolves its counts. */
async function childTaker(url: string, subject: string, takes: number, batch: boolean): Promise<() => Promise<Counts>> {
  const child = spawn(process.execPath, ['--import', 'tsx', TAKER, JSON.stringify({ limits: limitsFor(url, batch), subject, takes })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await Promise.race([
    until(async () => out.includes('ready\n'), 20_000),
    exit.then((code) => Promise.reject(new Error(`taker exited early (${code})`))),
  ]);
  return async () => {
    child.stdin.end('go\n');
    const code = await exit;
    expect(code).toBe(0);
    return JSON.parse(out.split('\n').filter(Boolean).at(-1)!) as Counts;
  };
}

async function race(url: string, subject: string, batch = false): Promise<{ parent: Counts; child: Counts }> {
  const limiter = createLimiter(limitsSchema.parse(limitsFor(url, batch)));
  try {
    await until(() => limiter.ready());
    const go = await childTaker(url, subject, 500, batch);
    const [childCounts, outcomes] = await Promise.all([go(), Promise.all(Array.from({ length: 500 }, (_, i) => take(limiter, subject, i)))]);
    const parent = {
      allowed: outcomes.filter((o) => o.allowed).length,
      denied: outcomes.filter((o) => !o.allowed && o.reason === 'rate_limited').length,
      other: outcomes.filter((o) => !o.allowed && o.reason !== 'rate_limited').length,
    };
    return { parent, child: childCounts };
  } finally {
    await limiter.close();
  }
}

describe('standalone redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('1,000 concurrent takes from two processes against a bucket of 100: exactly 100 allowed', async () => {
    const { parent, child } = await race(redis.url, 'shared-caller');
    expect(parent.other + child.other).toBe(0);
    expect(parent.allowed + child.allowed).toBe(100);
    expect(parent.denied + child.denied).toBe(900);
  });

  it('the same with limits.redis.batch on in both processes', async () => {
    const { parent, child } = await race(redis.url, 'batched-caller', true);
    expect(parent.other + child.other).toBe(0);
    expect(parent.allowed + child.allowed).toBe(100);
    expect(parent.denied + child.denied).toBe(900);
  });
});

describe('redis cluster (three masters)', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('1,000 concurrent takes from two processes against a bucket of 100: exactly 100 allowed', async () => {
    const { parent, child } = await race(cluster.url, 'cluster-caller');
    expect(parent.other + child.other).toBe(0);
    expect(parent.allowed + child.allowed).toBe(100);
    expect(parent.denied + child.denied).toBe(900);
  });

  it('spreads subjects over the masters while each check stays in one slot', async () => {
    const limiter = createLimiter(limitsSchema.parse({ ...limitsFor(cluster.url), buckets: [
      { id: 'a', rate: 10, burst: 10 },
      { id: 'b', rate: 100, per: 'minute', per_model: true },
    ] }));
    await until(() => limiter.ready());
    const outcomes = await Promise.all(Array.from({ length: 60 }, (_, i) => take(limiter, `subject-${i}`, i)));
    expect(outcomes.every((o) => o.allowed && o.metadata.ratelimit_fallback === undefined)).toBe(true);
    await limiter.close();
  });
});
