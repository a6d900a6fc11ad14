// Item 5 of issue 12 with a real Redis SIGKILLed and restarted: ready means "answers correctly under
// its configured fail modes". With only fail_open limits a Redis outage leaves the instance ready,
// degraded (said in /readyz, in modelgate_degraded, and once in the log); with a fail_closed limit it
// is not ready. gRPC health (grpc.health.v1, what Envoy's cluster health check asks) agrees with
// /readyz in every state, and both recover when Redis is back.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { AUTHORIZATION_SERVICE } from '../../../src/grpc/protos.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { eventually, scrape, value } from '../../helpers/scrape.js';

type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN';
interface HealthClient extends grpc.Client {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, reply?: { status: HealthStatus }) => void): void;
}

function healthClient(address: string): HealthClient {
  const Client = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
  return new Client(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

const config = (redisUrl: string, failMode: 'fail_open' | 'fail_closed') => `
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
limits:
  redis: { url: '${redisUrl}', timeout_ms: 50 }
  buckets:
    - { id: per-caller, rate: 1000, per: second, on_redis_error: ${failMode} }
    # A shadow limit never denies, so its fail mode does not decide readiness.
    - { id: trial, rate: 1, per: hour, shadow: true, on_redis_error: fail_closed }
`;

interface Observed {
  readonly readyz: { status: number; body: string };
  readonly health: { all: HealthStatus; authorization: HealthStatus };
  readonly ready: number;
  readonly degraded: number;
}

describe('readiness under a Redis outage', () => {
  let redis: RedisServer;
  let gate: TestGate;
  let health: HealthClient;

  const healthOf = (service: string) =>
    new Promise<HealthStatus>((ok, fail) => health.check({ service }, (error, reply) => (error ? fail(error) : ok(reply!.status))));
  async function observe(): Promise<Observed> {
    const res = await fetch(`http://127.0.0.1:${gate.gate.adminPort}/readyz`);
    const readyz = { status: res.status, body: await res.text() };
    const samples = await scrape(gate.gate.adminPort!);
    return {
      readyz,
      health: { all: await healthOf(''), authorization: await healthOf(AUTHORIZATION_SERVICE) },
      ready: value(samples, 'modelgate_ready'),
      degraded: value(samples, 'modelgate_degraded'),
    };
  }
  /** Polls until /readyz and gRPC health both give `status`; returns that observation. */
  async function until(readyz: number, serving: HealthStatus): Promise<Observed> {
    let last: Observed | undefined;
    await eventually(
      async () => {
        last = await observe();
        return last.readyz.status === readyz && last.health.all === serving && last.health.authorization === serving;
      },
      10_000,
      `/readyz ${readyz} and gRPC health ${serving}`,
    );
    return last!;
  }
  const check = () => gate.client.check(envoyCheckRequest({ principal: 'spiffe://t/caller' }));
  const start = async (failMode: 'fail_open' | 'fail_closed') => {
    redis = await startRedis();
    gate = await startTestGate(config(redis.url, failMode));
    health = healthClient(gate.address);
  };
  const stop = async () => {
    health?.close();
    await gate?.close();
    await redis?.stop();
  };

  describe('every enforced limit fail_open', () => {
    beforeAll(() => start('fail_open'));
    afterAll(stop);

    it('stays ready (degraded) while Redis is down, and says so in /readyz, the metrics and one log line', async () => {
      const up = await until(200, 'SERVING');
      expect(up.readyz.body).toMatch(/^ready: policy sha256 [0-9a-f]{64}/);
      expect([up.ready, up.degraded]).toEqual([1, 0]);

      await redis.kill();
      let down: Observed | undefined;
      await eventually(async () => (down = await observe()).readyz.body.startsWith('ready (degraded)'), 10_000, 'a degraded /readyz');
      expect(down!.readyz.status).toBe(200);
      expect(down!.readyz.body).toMatch(/rate limiter backend unreachable; every enforced limit is fail_open/);
      expect(down!.health).toEqual({ all: 'SERVING', authorization: 'SERVING' });
      expect([down!.ready, down!.degraded]).toEqual([1, 1]);
      // Ready was the truth: the check is answered by its fail mode (a local bucket), not refused.
      const res = await check();
      expect(res.status.code).toBe(0);

      await redis.restart();
      const back = await until(200, 'SERVING');
      await eventually(async () => (await observe()).readyz.body.startsWith('ready: policy'), 10_000, 'ready again');
      expect([back.ready]).toEqual([1]);
      expect(value(await scrape(gate.gate.adminPort!), 'modelgate_degraded')).toBe(0);
      const changes = gate.logs.filter((l) => l.msg === 'readiness changed').map((l) => l.readiness);
      expect(changes).toEqual(['degraded', 'ready']);
    });
  });

  describe('one fail_closed limit', () => {
    beforeAll(() => start('fail_closed'));
    afterAll(stop);

    it('is not ready while Redis is down, gRPC health says NOT_SERVING with it, and both recover', async () => {
      await until(200, 'SERVING');

      await redis.kill();
      const down = await until(503, 'NOT_SERVING');
      expect(down.readyz.body).toMatch(/^not ready: rate limiter backend unreachable and fail_closed limit\(s\) per-caller answer/);
      expect(down.readyz.body).not.toContain('trial');
      expect([down.ready, down.degraded]).toEqual([0, 1]);
      // Not ready was the truth: a check the limit covers is refused with limiter_unavailable.
      const res = await check();
      expect(res.status.code).toBe(14);
      expect(JSON.parse(res.denied_response!.body)).toMatchObject({ reason: 'limiter_unavailable' });

      await redis.restart();
      const back = await until(200, 'SERVING');
      expect(back.readyz.body).toMatch(/^ready: policy sha256/);
      expect([back.ready, back.degraded]).toEqual([1, 0]);
      expect((await check()).status.code).toBe(0);
      const changes = gate.logs.filter((l) => l.msg === 'readiness changed').map((l) => l.readiness);
      expect(changes).toEqual(['not_ready', 'ready']);
    });
  });
});
