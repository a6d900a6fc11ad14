// Issue 13, finding 6: subjects are qualified by source. A partner issuer's JWT, an Envoy-verified
// jwt_authn payload and a source.principal that all say `svc:reporting-bot` are not the API key
// whose subject is `svc:reporting-bot`: they match none of its rules and never drain its buckets.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createApiKey } from '../../../src/identity/api-key.js';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { jsonToStruct, structToJson } from '../../../src/grpc/struct.js';
import type { PbCheckResponse } from '../../../src/grpc/envoy-types.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { jwks, signToken, signingKey, type SigningKey } from '../../helpers/jwt.js';

const PARTNER = 'https://partner.example';
const BOT = 'svc:reporting-bot';
const meta = (res: PbCheckResponse) => structToJson(res.dynamic_metadata);
const headerOf = (res: PbCheckResponse, name: string) =>
  res.ok_response?.headers.find((h) => h.header?.key === name)?.header?.value;

describe('subjects are qualified by their source', () => {
  const secret = randomBytes(32).toString('base64url');
  const key = createApiKey(Buffer.from(secret), 'reporting-bot');
  let partner: SigningKey;
  let t: TestGate;

  beforeAll(async () => {
    partner = await signingKey('ES256', 'partner-1');
    t = await startTestGate(
      `
identity:
  order: [jwt, api_key, mtls]
  jwt:
    envoy_jwt_authn: {}
    issuers:
      - { name: partner, issuer: '${PARTNER}', audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256] }
  api_keys:
    secret_env: T_SECRET
    keys: [{ id: reporting-bot, hash: ${key.hash}, subject: '${BOT}', roles: [analyst] }]
  mtls:
    sources: [principal]
policy:
  roles: { analyst: null }
  rules:
    # Written for the API key alone: the finance report model is its, and nobody else's.
    - { id: bot-reports, effect: allow, subjects: ['api_key:${BOT}'], models: [finance-report] }
    - { id: partner-bot, effect: allow, subjects: ['jwt:partner:${BOT}'], models: [partner-feed] }
    - { id: by-source, effect: allow, models: [by-source], when: 'subject.source == "api_key" && subject.raw_id == "${BOT}" && subject.id == "api_key:${BOT}"' }
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
limits:
  buckets:
    # Keyed by subject: the key's 5 calls an hour are the key's.
    - { id: hourly, rate: 5, per: hour, burst: 5 }
`,
      { env: { T_SECRET: secret }, files: { 'jwks.json': jwks(partner) } },
    );
  });
  afterAll(async () => t.close());

  const path = (model: string) => `/v1/models/${model}:predict`;
  const viaKey = (model: string) => t.client.check(envoyCheckRequest({ path: path(model), headers: { 'x-api-key': key.key } }));
  const viaJwt = async (model: string) =>
    t.client.check(
      envoyCheckRequest({
        path: path(model),
        headers: { authorization: `Bearer ${await signToken(partner, { issuer: PARTNER, subject: BOT })}` },
      }),
    );
  const viaJwtAuthn = (model: string) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: PARTNER, sub: BOT, aud: 'modelgate', iat: now, exp: now + 600 };
    return t.client.check(
      envoyCheckRequest({ path: path(model), filterMetadata: { 'envoy.filters.http.jwt_authn': jsonToStruct({ jwt_payload: payload }) } }),
    );
  };
  const viaPrincipal = (model: string) => t.client.check(envoyCheckRequest({ path: path(model), principal: BOT }));

  it('names each caller with its source in the header and the metadata', async () => {
    const key = await viaKey('finance-report');
    expect(key.status.code).toBe(0);
    expect(meta(key)).toMatchObject({ subject: `api_key:${BOT}`, rule_id: 'bot-reports' });
    expect(headerOf(key, 'x-modelgate-subject')).toBe(`api_key:${BOT}`);
    const jwt = await viaJwt('partner-feed');
    expect(jwt.status.code).toBe(0);
    expect(headerOf(jwt, 'x-modelgate-subject')).toBe(`jwt:partner:${BOT}`);
    // Envoy's jwt_authn payload is the same issuer's token: the same subject, not a third one.
    expect(meta(await viaJwtAuthn('partner-feed'))).toMatchObject({ subject: `jwt:partner:${BOT}`, auth_method: 'envoy_jwt' });
    expect(meta(await viaPrincipal('partner-feed'))).toMatchObject({ subject: `mtls:${BOT}`, reason: 'no_matching_rule' });
    const logged = t.logs.filter((l) => typeof l.decision_id === 'string').map((l) => l.subject);
    expect(logged).toEqual(expect.arrayContaining([`api_key:${BOT}`, `jwt:partner:${BOT}`, `mtls:${BOT}`]));
  });

  it("a JWT, a jwt_authn payload or a principal with the key's subject string does not match the key's rule", async () => {
    for (const res of [await viaJwt('finance-report'), await viaJwtAuthn('finance-report'), await viaPrincipal('finance-report')]) {
      expect(res.status.code).toBe(7);
      expect(meta(res)).toMatchObject({ decision: 'deny', reason: 'no_matching_rule' });
    }
  });

  it('CEL sees the qualified id, and its source and raw id apart', async () => {
    expect(meta(await viaKey('by-source'))).toMatchObject({ decision: 'allow', rule_id: 'by-source' });
    for (const res of [await viaJwt('by-source'), await viaPrincipal('by-source')]) {
      expect(meta(res)).toMatchObject({ decision: 'deny', reason: 'no_matching_rule' });
    }
  });

  it("six partner calls do not spend the key's bucket", async () => {
    // The earlier cases charged the JWT subject too; six more leave it over its 5/hour for sure.
    const last: PbCheckResponse[] = [];
    for (let i = 0; i < 6; i++) last.push(await viaJwt('partner-feed'));
    expect(meta(last[5]!).reason).toBe('rate_limited');
    for (let i = 0; i < 6; i++) await viaPrincipal('finance-report');
    // The key made two calls so far: its bucket is its own.
    const res = await viaKey('finance-report');
    expect(res.status.code).toBe(0);
    expect(meta(res)).toMatchObject({ decision: 'allow', subject: `api_key:${BOT}` });
  });
});
