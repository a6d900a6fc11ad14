// The limiter stage inside real modelgate instances: 429 on the wire, and two instances sharing one
// Redis (standalone and cluster) that never double-spend a bucket.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../../helpers/redis.js';
import { decodeCheckResponse } from '../../helpers/envoy-wire.js';

const config = (limits: string) => `
identity:
  order: [mtls]
  mtls:
    sources: [principal]
    workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
limits:
${limits}
`;

// fail_closed and a generous timeout: on a loaded CI machine a 50 ms Redis budget can expire, and a
// fail_open fallback would then (by design) spend a local bucket — not what this test measures.
const bucket100 = (redisUrl: string) =>
  config(`  redis: { url: '${redisUrl}', timeout_ms: 5000 }
  buckets:
    - { id: per-caller, match: { roles: [analyst] }, rate: 100, per: day, burst: 100, on_redis_error: fail_closed }`);

describe('429 on the wire (embedded limiter)', () => {
  let t: TestGate;
  beforeAll(async () => {
    t = await startTestGate(config(`  buckets:\n    - { id: tiny, match: { roles: [analyst] }, rate: 1, per: minute, burst: 2 }`));
  });
  afterAll(async () => t.close());

  it('answers RESOURCE_EXHAUSTED + 429 with Retry-After, RateLimit headers and metadata', async () => {
    const req = () => t.client.checkRaw(envoyCheckRequest({ principal: 'spiffe://t/a' })).then(decodeCheckResponse);
    const first = await req();
    expect(first.status?.code ?? 0).toBe(0);
    const clientHeaders = first.ok_response.response_headers_to_add.map((h: any) => h.header.key.toLowerCase());
    expect(clientHeaders).toEqual(expect.arrayContaining(['ratelimit-policy', 'ratelimit']));
    await req();
    const limited = await req();
    expect(limited.status.code).toBe(8);
    expect(limited.denied_response.status.code).toBe('TooManyRequests');
    const headers = Object.fromEntries(limited.denied_response.headers.map((h: any) => [h.header.key.toLowerCase(), h.header.value]));
    expect(Number(headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(JSON.parse(limited.denied_response.body).reason).toBe('rate_limited');
    expect(limited.dynamic_metadata.fields.reason.stringValue).toBe('rate_limited');
  });
});

async function spendConcurrently(gates: TestGate[], total: number): Promise<{ allowed: number; limited: number; other: number }> {
  const counts = { allowed: 0, limited: 0, other: 0 };
  await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const res = await gates[i % gates.length]!.client.check(envoyCheckRequest({ principal: 'spiffe://t/shared' }), 20_000);
      const reason = structToJson(res.dynamic_metadata).reason;
      if (res.status.code === 0) counts.allowed++;
      else if (reason === 'rate_limited') counts.limited++;
      else counts.other++;
    }),
  );
  return counts;
}

describe('two modelgate instances sharing Redis', () => {
  let redis: RedisServer;
  let cluster: RedisCluster;
  beforeAll(async () => {
    [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), cluster?.stop()]);
  });

  for (const kind of ['standalone', 'cluster'] as const) {
    it(`${kind}: 1,000 concurrent checks against a bucket of 100 allow exactly 100`, async () => {
      const url = kind === 'standalone' ? redis.url : cluster.url;
      const gates = await Promise.all([startTestGate(bucket100(url)), startTestGate(bucket100(url))]);
      try {
        expect(await spendConcurrently(gates, 1000)).toEqual({ allowed: 100, limited: 900, other: 0 });
        // Every check that reached Redis is in the call histogram: at least the 100 allowed ones, at most
        // all 1,000 (the deny cache answers some refusals locally), none failed.
        const calls = async (outcome: string) => {
          let sum = 0;
          for (const g of gates) {
            const text = await g.gate.metrics.registry.metrics();
            const m = new RegExp(`^modelgate_redis_call_duration_seconds_count\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
            sum += Number(m?.[1] ?? 0);
          }
          return sum;
        };
        const ok = await calls('ok');
        expect(ok).toBeGreaterThanOrEqual(100);
        expect(ok).toBeLessThanOrEqual(1000);
        expect(await calls('error')).toBe(0);
      } finally {
        await Promise.all(gates.map((g) => g.close()));
      }
    });
  }
});
