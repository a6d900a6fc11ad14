// Issue 13, finding 8, the Redis limiter's side: its fail-open fallback uses the same lossless
// store, so a full fallback answers newcomers by the fail mode and never refills an exhausted bucket.

import { afterAll, describe, expect, it } from 'vitest';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { compileLimits } from '../../../src/ratelimit/compile.js';
import type { LimitRequest } from '../../../src/ratelimit/limiter.js';
import { RedisLimiter } from '../../../src/ratelimit/redis-limiter.js';

const T = 1_700_000_000_000;
const req = (subject: string, now = T): LimitRequest => ({
  identity: { subject, method: 'api_key', roles: [], attributes: {} },
  model: 'm',
  action: 'infer',
  requestId: 'r',
  body: () => undefined,
  now,
});

describe('the Redis fallback when memory is full', () => {
  // Port 1 refuses connections: every check takes the fail-open fallback.
  const limiter = new RedisLimiter(
    compileLimits(limitsSchema.parse({ memory_max_entries: 3, redis: { url: 'redis://127.0.0.1:1' }, buckets: [{ id: 'b', rate: 1, per: 'hour' }] })),
  );
  afterAll(() => limiter.close());

  it('keeps the exhausted bucket and lets newcomers through uncounted, saying so', async () => {
    expect(await limiter.take(req('alice'))).toMatchObject({ allowed: true, metadata: { ratelimit_fallback: 'local', ratelimit_remaining: 0 } });
    expect(await limiter.take(req('alice'))).toMatchObject({ allowed: false, reason: 'rate_limited' });
    for (const s of ['bob', 'carol']) expect((await limiter.take(req(s))).allowed).toBe(true);
    for (let i = 0; i < 10; i++) {
      expect(await limiter.take(req(`newcomer-${i}`, T + i))).toMatchObject({ allowed: true, metadata: { ratelimit_fallback: 'local', ratelimit_error: 'memory_full' } });
    }
    expect(await limiter.take(req('alice', T + 20))).toMatchObject({ allowed: false, reason: 'rate_limited' });
  });
});
