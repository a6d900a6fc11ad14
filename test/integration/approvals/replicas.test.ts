// Two modelgate instances sharing one real Redis: a grant approved on one replica opens the other,
// a revoke on either closes both, and a Redis outage fails the gated checks closed (503), never open.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { signToken, signingKey, startJwksServer, type JwksServer } from '../../helpers/jwt.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { approvalsEndpoint } from '../../helpers/approvals/client.js';

const ISSUER = 'https://issuer.test';

describe('approvals shared through Redis', () => {
  let redis: RedisServer;
  let jwksServer: JwksServer;
  let a: TestGate;
  let b: TestGate;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    redis = await startRedis();
    const key = await signingKey('ES256', 'k1');
    jwksServer = await startJwksServer(ISSUER, key);
    tokens.ann = await signToken(key, { subject: 'ann', claims: { roles: ['analyst'] }, expiresIn: 3600 });
    tokens.max = await signToken(key, { subject: 'max', claims: { roles: ['lead'] }, expiresIn: 3600 });
    const yaml = `
identity:
  jwt:
    issuers:
      - { name: corp, issuer: '${ISSUER}', audiences: [modelgate], jwks_uri: '${jwksServer.jwksUri}', algorithms: [ES256] }
policy:
  roles: { analyst: null, lead: null }
  rules:
    - { id: gated, effect: require_approval, roles: [analyst], models: [churn], approvers: [lead] }
    - { id: analysts, effect: allow, roles: [analyst] }
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
approvals:
  listen: 127.0.0.1:0
  redis: { url: '${redis.url}', timeout_ms: 200 }
`;
    a = await startTestGate(yaml);
    b = await startTestGate(yaml);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await jwksServer?.close();
    await redis?.stop();
  });

  const check = async (gate: TestGate, model = 'churn') => {
    const res = await gate.client.check(envoyCheckRequest({ path: `/v1/models/${model}:predict`, headers: { authorization: `Bearer ${tokens.ann}` } }));
    return { res, meta: structToJson(res.dynamic_metadata) as Record<string, unknown>, body: res.denied_response ? (JSON.parse(res.denied_response.body) as Record<string, unknown>) : undefined };
  };
  const endpoint = (gate: TestGate) => approvalsEndpoint(`http://127.0.0.1:${gate.gate.approvalsPort}`);

  it('a request made on A is pending on B, approved on B, and opens A', async () => {
    const fromA = await check(a);
    expect(fromA.body).toMatchObject({ reason: 'approval_required', input_sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
    const id = fromA.body!.approval_id as string;
    // The same request on B reuses A's pending entry.
    expect((await check(b)).body!.approval_id).toBe(id);
    const pendingOnB = await endpoint(b)('GET', '/v1/approvals', { token: tokens.max });
    expect(pendingOnB.body.pending.map((r: { id: string }) => r.id)).toEqual([id]);
    const approved = await endpoint(b)('POST', `/v1/approvals/${id}/approve`, { token: tokens.max }, '{"for":"10m"}');
    expect(approved.status).toBe(200);
    expect((await check(a)).res.status.code).toBe(0);
    expect((await check(b)).res.status.code).toBe(0);
    expect((await check(a, 'fraud')).res.status.code).toBe(0); // not gated

    const grants = await endpoint(a)('GET', '/v1/grants', { token: tokens.max });
    expect(grants.body.grants.map((g: { id: string }) => g.id)).toEqual([approved.body.grant.id]);
    expect(await endpoint(a)('POST', `/v1/grants/${approved.body.grant.id}/revoke`, { token: tokens.max })).toMatchObject({ status: 200 });
    expect((await check(b)).body).toMatchObject({ reason: 'approval_required' });
    expect((await check(a)).body).toMatchObject({ reason: 'approval_required' });
  });

  it('fails closed while Redis is down: 503 for gated checks, ungated ones unaffected', async () => {
    await redis.kill();
    try {
      const gated = await check(a);
      expect(gated.res.status.code).not.toBe(0);
      expect(gated.res.denied_response!.status.code).toBe('ServiceUnavailable');
      expect(gated.meta.reason).toBe('internal_error');
      expect((await check(a, 'fraud')).res.status.code).toBe(0);
      expect(await endpoint(b)('GET', '/v1/approvals', { token: tokens.max })).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    } finally {
      await redis.restart();
    }
  });
});
