// The `limits` schema: defaults filled in, unknown keys and bad values rejected with their key path.

import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { createLimiter } from '../../../src/ratelimit/create-limiter.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';
import { MemoryLimiter } from '../../../src/ratelimit/memory-limiter.js';

const problems = (input: unknown) => {
  const parsed = limitsSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('limits config', () => {
  it('fills every default from an almost empty section', () => {
    const config = limitsSchema.parse({ buckets: [{ id: 'caller', rate: 120, per: 'minute' }] });
    expect(config.redis).toEqual({
      key_prefix: 'modelgate:rl:',
      timeout_ms: 50,
      max_idle_seconds: 86_400,
      deny_cache: true,
      batch: false,
      circuit: { failures: 5, probe_ms: 100 },
    });
    expect(config.headers).toBe('ietf');
    expect(config.tier_attribute).toBe('tier');
    expect(config.buckets[0]).toEqual({
      id: 'caller',
      match: {},
      rate: 120,
      per: 'minute',
      burst: 120,
      per_model: false,
      cost: { default: 1, model_weights: {} },
      on_redis_error: 'fail_open',
      shadow: false,
    });
  });

  it('defaults burst to the rate rounded up, at least 1', () => {
    const config = limitsSchema.parse({ buckets: [{ id: 'a', rate: 0.5 }, { id: 'b', rate: 2.5 }] });
    expect(config.buckets.map((b) => b.burst)).toEqual([1, 3]);
  });

  it('fills block and load-factor defaults when the sections are present', () => {
    const config = limitsSchema.parse({ block: {}, load_factor: {} });
    expect(config.block).toEqual({ after_violations: 10, window_seconds: 60, base_seconds: 30, factor: 2, max_seconds: 3600, forget_after_seconds: 86_400 });
    expect(config.load_factor).toEqual({ key: 'modelgate:load_factor', refresh_ms: 1000, min: 0.05 });
  });

  it('rejects unknown keys at every level, naming the path', () => {
    expect(problems({ bukets: [] })).toEqual([': Unrecognized key: "bukets"']);
    expect(problems({ buckets: [{ id: 'a', rate: 1, match: { role: ['x'] } }] })).toEqual(['buckets.0.match: Unrecognized key: "role"']);
    expect(problems({ redis: { timeout: 5 } })).toEqual(['redis: Unrecognized key: "timeout"']);
  });

  it('rejects duplicate ids, bad units, bad urls, and braces in the key prefix', () => {
    expect(problems({ buckets: [{ id: 'a', rate: 1 }, { id: 'a', rate: 2 }] })).toEqual(["buckets.1.id: duplicate bucket id 'a'"]);
    expect(problems({ buckets: [{ id: 'a', rate: 1, per: 'week' }] })[0]).toMatch(/^buckets\.0\.per: /);
    expect(problems({ redis: { url: 'http://x' } })[0]).toMatch(/^redis\.url: must start with redis:\/\//);
    expect(problems({ redis: { key_prefix: 'a{b}' } })[0]).toMatch(/^redis\.key_prefix: must not contain/);
    expect(problems({ buckets: [{ id: 'a', rate: -1 }] })[0]).toMatch(/^buckets\.0\.rate: /);
    expect(problems({ redis: { circuit: { failures: 0 } } })[0]).toMatch(/^redis\.circuit\.failures: /);
    expect(problems({ redis: { circuit: { probe: 100 } } })).toEqual(['redis.circuit: Unrecognized key: "probe"']);
  });

  it('accepts cluster and TLS urls', () => {
    for (const url of ['redis://h:1', 'rediss://h:1', 'redis+cluster://a:1,b:2', 'rediss+cluster://u:p@a:1']) {
      expect(problems({ redis: { url } })).toEqual([]);
    }
  });
});

describe('createLimiter', () => {
  it('is the unlimited adapter when no bucket is configured', () => {
    expect(createLimiter(limitsSchema.parse({}))).toBe(unlimited);
  });

  it('is the in-memory limiter when no redis url is configured', async () => {
    const limiter = createLimiter(limitsSchema.parse({ buckets: [{ id: 'a', rate: 1 }] }));
    expect(limiter).toBeInstanceOf(MemoryLimiter);
    expect(await limiter.ready()).toBe(true);
    await limiter.close();
  });
});
