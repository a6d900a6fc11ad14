// The admin port over real sockets: checks through a real gRPC client, then /metrics scraped over
// HTTP; health and readiness; gRPC server reflection.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { CHECK_LATENCY_BUCKETS } from '../../../src/metrics/metrics.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { jwks, signingKey, signToken, type SigningKey } from '../../helpers/jwt.js';
import { scrape, value, type Sample } from '../../helpers/scrape.js';

const ISSUER = 'https://issuer.test';

const config = `
server: { admin: { address: '127.0.0.1:0' } }
identity:
  jwt:
    issuers: [{ name: test, issuer: ${ISSUER}, audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256] }]
policy:
  roles: { analyst: null }
  rules:
    - { id: analysts, effect: allow, roles: [analyst], models: [fraud-detector, churn, 'chat-*', secret-model-xyz] }
    - { id: no-train, effect: deny, actions: [train] }
    - { id: churn-trial, effect: deny, shadow: true, models: [churn] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
      - { pattern: '/v1/models/{model}:train', action: train }
limits:
  buckets:
    - { id: churn-budget, rate: 1, per: hour, burst: 1, match: { models: [churn] } }
`;

describe('admin port', () => {
  let gate: TestGate;
  let key: SigningKey;
  let token: string;
  let port: number;
  let samples: Sample[];

  beforeAll(async () => {
    key = await signingKey('ES256', 'k1');
    gate = await startTestGate(config, { files: { 'jwks.json': jwks(key) } });
    port = gate.gate.adminPort!;
    token = await signToken(key, { issuer: ISSUER, subject: 'alice', claims: { roles: ['analyst'] } });
    // status.code is the gRPC code: 0 allow, 16 unauthenticated, 7 permission denied, 8 resource exhausted.
    const check = (path: string, auth = true) =>
      gate.client.check(envoyCheckRequest({ path, headers: auth ? { authorization: `Bearer ${token}` } : {} }));
    for (let i = 0; i < 3; i++) expect((await check('/v1/models/fraud-detector:predict')).status.code).toBe(0);
    expect((await check('/v1/models/fraud-detector:predict', false)).status.code).toBe(16);
    expect((await check('/v1/models/fraud-detector:train')).status.code).toBe(7);
    expect((await check('/v1/models/chat-small:predict')).status.code).toBe(0);
    expect((await check('/v1/models/made-up-1:predict')).status.code).toBe(7);
    expect((await check('/v1/models/made-up-2:predict')).status.code).toBe(7);
    expect((await check('/v1/models/churn:predict')).status.code).toBe(0);
    expect((await check('/v1/models/churn:predict')).status.code).toBe(8);
    samples = await scrape(port);
  });
  afterAll(async () => {
    await gate?.close();
  });

  it('counts checks by decision, reason, auth method and a bounded model label', () => {
    const checks = (labels: Record<string, string>) => value(samples, 'modelgate_checks_total', labels);
    expect(checks({ decision: 'allow', reason: 'allowed', auth_method: 'jwt', model: 'fraud-detector' })).toBe(3);
    expect(checks({ decision: 'deny', reason: 'no_credential', auth_method: 'none', model: 'none' })).toBe(1);
    expect(checks({ decision: 'deny', reason: 'denied_by_rule', auth_method: 'jwt', model: 'fraud-detector' })).toBe(1);
    // A model only a glob names is labelled with the glob; unknown models collapse into "other".
    expect(checks({ decision: 'allow', model: 'chat-*' })).toBe(1);
    expect(checks({ decision: 'deny', reason: 'no_matching_rule', model: 'other' })).toBe(2);
    expect(samples.some((s) => s.name === 'modelgate_checks_total' && /made-up/.test(s.labels.model ?? ''))).toBe(false);
    expect(checks({ decision: 'deny', reason: 'rate_limited', model: 'churn' })).toBe(1);
    expect(checks({})).toBe(10);
  });

  it('observes every check in a latency histogram with sub-millisecond buckets', () => {
    const count = value(samples, 'modelgate_check_duration_seconds_count');
    expect(count).toBe(10);
    expect(value(samples, 'modelgate_check_duration_seconds_bucket', { le: '+Inf' })).toBe(10);
    const les = samples.filter((s) => s.name === 'modelgate_check_duration_seconds_bucket' && s.labels.decision === 'allow').map((s) => s.labels.le);
    expect(les).toEqual([...CHECK_LATENCY_BUCKETS.map(String), '+Inf']);
    expect(CHECK_LATENCY_BUCKETS.filter((b) => b < 0.001).length).toBeGreaterThanOrEqual(4);
    // Buckets are cumulative and the sum is a positive duration.
    const allow = samples.filter((s) => s.name === 'modelgate_check_duration_seconds_bucket' && s.labels.decision === 'allow').map((s) => s.value);
    expect(allow).toEqual([...allow].sort((a, b) => a - b));
    expect(value(samples, 'modelgate_check_duration_seconds_sum')).toBeGreaterThan(0);
  });

  it('counts token-cache hits and misses, limiter outcomes and shadow would-denies', () => {
    expect(value(samples, 'modelgate_jwt_cache_lookups_total', { result: 'miss' })).toBe(1);
    expect(value(samples, 'modelgate_jwt_cache_lookups_total', { result: 'hit' })).toBe(8);
    expect(value(samples, 'modelgate_ratelimit_outcomes_total', { outcome: 'allowed', bucket: 'churn-budget' })).toBe(1);
    expect(value(samples, 'modelgate_ratelimit_outcomes_total', { outcome: 'rate_limited', bucket: 'churn-budget' })).toBe(1);
    expect(value(samples, 'modelgate_ratelimit_outcomes_total', { outcome: 'unlimited' })).toBe(4);
    expect(value(samples, 'modelgate_shadow_would_deny_total', { rule: 'churn-trial' })).toBe(2);
    expect(value(samples, 'modelgate_internal_errors_total')).toBe(0);
  });

  it('exposes the hash of the config file in service and zeroed reload counters', () => {
    const sha = createHash('sha256').update(readFileSync(join(gate.dir, 'modelgate.yaml'))).digest('hex');
    expect(value(samples, 'modelgate_policy_info', { sha256: sha })).toBe(1);
    expect(samples.filter((s) => s.name === 'modelgate_policy_info')).toHaveLength(1);
    expect(value(samples, 'modelgate_policy_reloads_total', { result: 'failure' })).toBe(0);
    expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('answers /healthz, /readyz and 404 for anything else', async () => {
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.text()).toMatch(/^ready: policy sha256 [0-9a-f]{64}/);
    expect((await get('/nope')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('keeps a registry per instance: a second gate starts from zero', async () => {
    const other = await startTestGate(config, { files: { 'jwks.json': jwks(key) } });
    try {
      expect(other.gate.adminPort).not.toBe(port);
      expect(value(await scrape(other.gate.adminPort!), 'modelgate_checks_total')).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('serves gRPC reflection for grpcurl', async () => {
    const require = createRequire(import.meta.url);
    const protoDir = join(require.resolve('@grpc/reflection/package.json'), '..', 'build', 'proto');
    const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [protoDir], keepCase: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(gate.address, grpc.credentials.createInsecure());
    try {
      const services = await new Promise<string[]>((resolve, reject) => {
        type Reply = { list_services_response?: { service: Array<{ name: string }> } };
        const open = client.ServerReflectionInfo as () => grpc.ClientDuplexStream<object, Reply>;
        const call = open.call(client);
        call.on('data', (res: Reply) => {
          resolve((res.list_services_response?.service ?? []).map((s) => s.name));
          call.end();
        });
        call.on('error', reject);
        call.write({ list_services: '*' });
      });
      expect(services).toContain('envoy.service.auth.v3.Authorization');
    } finally {
      client.close();
    }
  });
});
