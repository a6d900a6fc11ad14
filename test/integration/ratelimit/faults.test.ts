// Redis dies mid-run (the process, SIGKILL) and comes back: each limit's fail mode answers within
// the timeout, nothing crashes or rejects unhandled, and Redis-backed limits resume by themselves.
// A Redis that hangs with its connection up opens the circuit after failures in a row.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { compileLimits } from '../../../src/ratelimit/compile.js';
import { createLimiter } from '../../../src/ratelimit/create-limiter.js';
import type { LimitOutcome, LimitRequest } from '../../../src/ratelimit/limiter.js';
import { RedisLimiter } from '../../../src/ratelimit/redis-limiter.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

/** Generous: the configured timeout is 200 ms, but these machines are noisy. */
const ANSWER_BOUND_MS = 1_500;

const req = (subject: string): LimitRequest => ({
  identity: { subject, method: 'api_key', roles: [], attributes: {} },
  model: 'm',
  action: 'infer',
  requestId: 'r',
  body: () => undefined,
  now: Date.now(),
});

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function timed(limiter: RedisLimiter, subject: string): Promise<{ outcome: LimitOutcome; ms: number }> {
  const start = performance.now();
  const outcome = await limiter.take(req(subject));
  return { outcome, ms: performance.now() - start };
}

// Every case with one script per check and with batched checks (`limits.redis.batch`).
describe.each([{ batch: false }, { batch: true }])('redis failure (batch: $batch)', ({ batch }) => {
  let redis: RedisServer;
  let limiter: RedisLimiter;
  const calls: Array<{ outcome: 'ok' | 'error'; seconds: number }> = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startRedis();
    const config = limitsSchema.parse({
      redis: { url: redis.url, timeout_ms: 200, batch },
      buckets: [
        { id: 'open', rate: 1, per: 'hour', burst: 3, match: { subjects: ['open-*'] }, on_redis_error: 'fail_open' },
        { id: 'closed', rate: 1, per: 'hour', burst: 3, match: { subjects: ['closed-*'] }, on_redis_error: 'fail_closed' },
      ],
    });
    limiter = new RedisLimiter(compileLimits(config), { onCall: (outcome, seconds) => calls.push({ outcome, seconds }) });
    await until(() => limiter.ready());
  });

  afterAll(async () => {
    await limiter?.close();
    await redis?.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  it('answers each fail mode within the timeout while Redis is dead, and recovers after restart', async () => {
    // Healthy: both go through Redis (retried: a loaded machine may miss a 200 ms deadline).
    await until(async () => (await limiter.take(req('open-a'))).metadata.ratelimit_fallback === undefined);
    await until(async () => (await limiter.take(req('closed-a'))).allowed);

    // Keep traffic flowing while the process is killed.
    let running = true;
    const background: Promise<LimitOutcome>[] = [];
    const pump = (async () => {
      for (let i = 0; running; i++) {
        background.push(limiter.take(req(i % 2 ? 'open-bg' : 'closed-bg')));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await redis.kill();
    await new Promise((r) => setTimeout(r, 200));

    const closed = await timed(limiter, 'closed-b');
    expect(closed.outcome).toMatchObject({ allowed: false, reason: 'limiter_unavailable' });
    expect(closed.ms).toBeLessThan(ANSWER_BOUND_MS);

    // fail_open charges a local bucket with the same limit: 3 pass, the 4th is denied locally.
    const open = [];
    for (let i = 0; i < 4; i++) open.push(await timed(limiter, 'open-b'));
    expect(open.map((o) => o.outcome.allowed)).toEqual([true, true, true, false]);
    expect(open[0]!.outcome.metadata.ratelimit_fallback).toBe('local');
    expect(open[3]!.outcome).toMatchObject({ reason: 'rate_limited', retryAfterSeconds: 3600 });
    for (const o of open) expect(o.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(await limiter.ready()).toBe(false);

    await redis.restart();
    await until(() => limiter.ready());
    running = false;
    await pump;
    const settled = await Promise.allSettled(background);
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);

    // Back on Redis (an empty one: the killed server kept nothing), without a new limiter.
    let after: LimitOutcome | undefined;
    await until(async () => (after = await limiter.take(req('closed-c'))).allowed);
    expect(after?.metadata).toMatchObject({ ratelimit_bucket: 'closed', ratelimit_remaining: 2 });
    expect(after?.metadata.ratelimit_fallback).toBeUndefined();
    expect(limiter.failures.failedClosed).toBeGreaterThan(0);
    expect(limiter.failures.fallbackOpen).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
  });

  it('treats a Redis that is alive but too slow like a dead one', async () => {
    // CLIENT PAUSE holds every other client's commands for 2 s, far past the 200 ms timeout;
    // once it has answered OK the pause is certainly in force.
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
    calls.length = 0;
    const slow = await timed(limiter, 'closed-slow');
    expect(slow.outcome).toMatchObject({ allowed: false, reason: 'limiter_unavailable' });
    expect(slow.ms).toBeLessThan(ANSWER_BOUND_MS);
    // The call was reported as an error that took (at least) the 200 ms timeout.
    expect(calls).toHaveLength(1);
    expect(calls[0]!.outcome).toBe('error');
    expect(calls[0]!.seconds).toBeGreaterThanOrEqual(0.199);
    await admin.call('CLIENT', 'UNPAUSE');
    admin.disconnect();
    await until(async () => (await limiter.take(req('closed-slow'))).allowed);
    expect(calls.at(-1)?.outcome).toBe('ok');
    expect(unhandled).toEqual([]);
  });

  it('stops waiting on a hung Redis after failures in a row, and goes back to it once it answers', async () => {
    const config = limitsSchema.parse({
      redis: { url: redis.url, timeout_ms: 100, batch, circuit: { failures: 3, probe_ms: 50 } },
      buckets: [{ id: 'closed', rate: 1, per: 'hour', burst: 100, on_redis_error: 'fail_closed' }],
    });
    const states: string[] = [];
    const metrics = createMetrics({ defaultMetrics: false });
    const circuitGauge = async () => /^modelgate_ratelimit_redis_circuit_state (\d+)$/m.exec(await metrics.registry.metrics())?.[1];
    const hung = createLimiter(config, {
      onRedisCircuit: (state) => {
        states.push(state);
        metrics.redisCircuit(state);
      },
    }) as RedisLimiter;
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    try {
      await until(() => hung.ready());
      expect((await hung.take(req('hung'))).allowed).toBe(true);
      // The connection stays up: only failures in a row can tell the circuit.
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      const timedOut = await Promise.all([1, 2, 3].map(() => timed(hung, 'hung')));
      for (const t of timedOut) expect(t.outcome).toMatchObject({ reason: 'limiter_unavailable', metadata: { ratelimit_error: 'timeout' } });
      expect(hung.circuit).toBe('open');
      expect(await circuitGauge()).toBe('2');
      const open: Array<{ outcome: LimitOutcome; ms: number }> = [];
      for (let i = 0; i < 50; i++) open.push(await timed(hung, 'hung'));
      for (const o of open) expect(o.outcome).toMatchObject({ reason: 'limiter_unavailable', metadata: { ratelimit_error: 'circuit_open' } });
      expect(Math.max(...open.map((o) => o.ms))).toBeLessThan(20);
      await admin.call('CLIENT', 'UNPAUSE');
      await until(async () => (await hung.take(req('hung'))).allowed, 3_000);
      expect(hung.circuit).toBe('closed');
      expect(states).toEqual(['open', 'half_open', 'closed']);
      expect(await circuitGauge()).toBe('0');
      const transitions = await metrics.registry.metrics();
      for (const state of ['open', 'half_open', 'closed']) {
        expect(transitions).toMatch(new RegExp(`^modelgate_ratelimit_redis_circuit_transitions_total\\{state="${state}"\\} 1$`, 'm'));
      }
      expect(unhandled).toEqual([]);
    } finally {
      admin.disconnect();
      await hung.close();
    }
  });
});
