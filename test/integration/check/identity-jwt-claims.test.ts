// Issue 13, findings 3, 9, 10, 12: one claim validator for both JWT paths. Each attack is sent as
// Envoy's jwt_authn payload in metadata_context (Envoy verified the signature; the issuer's claim
// rules are modelgate's) and as a bearer token modelgate verifies itself; both must answer alike.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import type { PbCheckResponse } from '../../../src/grpc/envoy-types.js';
import { jsonToStruct, structToJson } from '../../../src/grpc/struct.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { jwks, signingKey, type SigningKey } from '../../helpers/jwt.js';
import { SignJWT, type JWTPayload } from 'jose';

const ISSUER = 'https://idp.test';
const HOUR = 3600;

function reasonOf(res: PbCheckResponse): unknown {
  return structToJson(res.dynamic_metadata).reason;
}

describe('JWT claims: one validator for the direct and the jwt_authn path', () => {
  let key: SigningKey;
  let t: TestGate;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    key = await signingKey('ES256', 'k1');
    t = await startTestGate(
      `
identity:
  order: [jwt]
  jwt:
    envoy_jwt_authn: {}
    issuers:
      - name: idp
        issuer: ${ISSUER}
        audiences: [modelgate]
        jwks_file: jwks.json
        algorithms: [ES256]
        clock_skew_seconds: 5
        required_claims: [tenant]
policy:
  roles: { viewer: null, admin: null }
  rules:
    - { id: admins, effect: allow, roles: [admin] }
    - { id: viewers, effect: allow, roles: [viewer], actions: [predict] }
    - { id: writers-by-scope, effect: allow, actions: [train], when: '"models:write" in subject.scopes' }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
      - { pattern: '/v1/models/{model}:train', action: train }
`,
      { files: { 'jwks.json': jwks(key) } },
    );
  });
  afterAll(() => t.close());

  /** Claims every case starts from: valid for this issuer, a viewer. */
  const base = (): JWTPayload => ({ iss: ISSUER, aud: 'modelgate', sub: 'carol', tenant: 'acme', roles: ['viewer'], iat: now(), exp: now() + HOUR });

  const viaEnvoy = (payload: JWTPayload, path = '/v1/models/m:predict') =>
    t.client.check(envoyCheckRequest({ path, filterMetadata: { 'envoy.filters.http.jwt_authn': jsonToStruct({ jwt_payload: payload }) } }));

  const viaBearer = async (payload: JWTPayload, path = '/v1/models/m:predict') => {
    const token = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(key.privateKey);
    return t.client.check(envoyCheckRequest({ path, headers: { authorization: `Bearer ${token}` } }));
  };

  it('allows a payload that satisfies the issuer, on both paths', async () => {
    for (const send of [viaEnvoy, viaBearer]) {
      const res = await send(base());
      expect(res.status.code).toBe(0);
    }
    expect(structToJson((await viaEnvoy(base())).dynamic_metadata)).toMatchObject({ auth_method: 'envoy_jwt', subject: 'jwt:idp:carol' });
  });

  const without = (claim: string): JWTPayload => {
    const p = base();
    delete p[claim];
    return p;
  };
  const attacks: Array<[string, () => JWTPayload, string]> = [
    ['the wrong audience', () => ({ ...base(), aud: 'billing' }), 'token_audience_invalid'],
    ['no audience at all', () => without('aud'), 'token_audience_invalid'],
    ['a required claim missing', () => without('tenant'), 'token_claims_invalid'],
    ['a required claim null', () => ({ ...base(), tenant: null }), 'token_claims_invalid'],
    ['no exp', () => without('exp'), 'token_claims_invalid'],
    ['exp as a string', () => ({ ...base(), exp: '1' as unknown as number }), 'token_claims_invalid'],
    ['an expired exp', () => ({ ...base(), exp: now() - 60 }), 'token_expired'],
    ['nbf tomorrow', () => ({ ...base(), nbf: now() + 24 * HOUR }), 'token_not_yet_valid'],
    ['iat tomorrow (finding 12)', () => ({ ...base(), iat: now() + 24 * HOUR }), 'token_not_yet_valid'],
    ['iat beyond the clock skew', () => ({ ...base(), iat: now() + 60 }), 'token_not_yet_valid'],
    ['a role with a comma (finding 9)', () => ({ ...base(), roles: ['viewer,admin'] }), 'token_claims_invalid'],
    ['a role with a space', () => ({ ...base(), roles: ['viewer admin'] }), 'token_claims_invalid'],
    ['a role with a tab in a role string', () => ({ ...base(), roles: 'viewer\tadmin' }), 'token_claims_invalid'],
  ];
  for (const [name, payload, reason] of attacks) {
    it(`denies ${name} via jwt_authn metadata, as the direct path does`, async () => {
      const envoy = await viaEnvoy(payload());
      expect(envoy.status.code).toBe(16);
      expect(reasonOf(envoy)).toBe(reason);
      const direct = await viaBearer(payload());
      expect(direct.status.code).toBe(16);
      expect(reasonOf(direct)).toBe(reason);
    });
  }

  it('accepts nbf and iat within the clock skew', async () => {
    for (const send of [viaEnvoy, viaBearer]) {
      expect((await send({ ...base(), iat: now() + 3, nbf: now() + 3 })).status.code).toBe(0);
    }
  });

  it('never forwards a role that the policy did not see as one', async () => {
    const res = await viaEnvoy({ ...base(), roles: ['viewer', 'viewer,admin'] });
    expect(res.ok_response).toBeFalsy();
  });

  it('keeps scopes out of roles by default (finding 10) and offers them as subject.scopes', async () => {
    for (const send of [viaEnvoy, viaBearer]) {
      // `scope: admin` is what a client asked for, not a role the issuer granted.
      const asked = await send({ ...base(), roles: [], scope: 'openid admin' });
      expect(asked.status.code).toBe(7);
      expect(reasonOf(asked)).toBe('no_matching_rule');
      const scp = await send({ ...base(), roles: [], scp: ['admin'] }, '/v1/models/m:predict');
      expect(reasonOf(scp)).toBe('no_matching_rule');
      const writer = await send({ ...base(), roles: [], scope: 'openid models:write' }, '/v1/models/m:train');
      expect(writer.status.code).toBe(0);
      expect(structToJson(writer.dynamic_metadata)).toMatchObject({ rule_id: 'writers-by-scope', roles: '' });
      const headers = Object.fromEntries(writer.ok_response!.headers.map((h) => [h.header.key, h.header.value]));
      expect(headers['x-modelgate-roles'] ?? '').toBe('');
    }
  });
});

describe('an operator may still map a scope claim into roles', () => {
  let key: SigningKey;
  let t: TestGate;
  beforeAll(async () => {
    key = await signingKey('ES256', 'k1');
    t = await startTestGate(
      `
identity:
  order: [jwt]
  jwt:
    issuers:
      - { name: idp, issuer: '${ISSUER}', audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256], claims: { roles: [roles, scope] } }
policy:
  roles: { admin: null }
  rules: [{ id: admins, effect: allow, roles: [admin] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`,
      { files: { 'jwks.json': jwks(key) } },
    );
  });
  afterAll(() => t.close());

  it('treats the listed scope claim as roles', async () => {
    const n = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: ISSUER, aud: 'modelgate', sub: 'op', scope: 'openid admin', exp: n + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(key.privateKey);
    const res = await t.client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }));
    expect(res.status.code).toBe(0);
    expect(structToJson(res.dynamic_metadata).rule_id).toBe('admins');
  });
});
