// JWT identity through a real gRPC socket: local and remote JWKS, rotation, outage, and forged tokens.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, base64url, exportSPKI } from 'jose';
import { createHmac } from 'node:crypto';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import type { PbCheckResponse } from '../../../src/grpc/envoy-types.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { jwks, signToken, signingKey, startJwksServer, type JwksServer, type SigningKey } from '../../helpers/jwt.js';

const ISSUER = 'https://issuer.test';
const REMOTE = 'https://remote.test';
const OIDC = 'https://oidc.test';

const policy = `
policy:
  roles: { data_scientist: null, analyst: null }
  rules:
    - { id: ds, effect: allow, roles: [data_scientist] }
    - { id: gold-only, effect: allow, roles: [analyst], when: 'subject.attributes.tier == "gold"' }
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
`;

function reasonOf(res: PbCheckResponse): unknown {
  return structToJson(res.dynamic_metadata).reason;
}

describe('JWT identity', () => {
  let es: SigningKey;
  let rs: SigningKey;
  let remoteA: SigningKey;
  let remoteB: SigningKey;
  let jwksServer: JwksServer;
  let oidcServer: JwksServer;
  let t: TestGate;

  beforeAll(async () => {
    es = await signingKey('ES256', 'es-1');
    rs = await signingKey('RS256', 'rs-1');
    remoteA = await signingKey('ES256', 'remote-a');
    remoteB = await signingKey('ES256', 'remote-b');
    jwksServer = await startJwksServer(REMOTE, remoteA);
    oidcServer = await startJwksServer(OIDC, remoteA);
    t = await startTestGate(
      `
identity:
  order: [jwt]
  jwt:
    envoy_jwt_authn: { payload_key: jwt_payload }
    issuers:
      - name: local
        issuer: ${ISSUER}
        audiences: [modelgate]
        jwks_file: jwks.json
        algorithms: [ES256, RS256]
        clock_skew_seconds: 5
        claims: { attributes: { tier: tier, org: org } }
      - name: remote
        issuer: ${REMOTE}
        audiences: [modelgate]
        jwks_uri: ${jwksServer.jwksUri}
        algorithms: [ES256]
        jwks_cooldown_seconds: 0
      - name: oidc
        issuer: ${OIDC}
        audiences: [modelgate]
        discovery_url: ${oidcServer.discoveryUrl}
        algorithms: [ES256]
${policy}`,
      { files: { 'jwks.json': jwks(es, rs) } },
    );
  });
  afterAll(async () => {
    await t.close();
    await jwksServer.close();
    await oidcServer.close();
  });

  const check = (token: string, extra: Parameters<typeof envoyCheckRequest>[0] = {}) =>
    t.client.check(envoyCheckRequest({ ...extra, headers: { authorization: `Bearer ${token}`, ...extra.headers } }));

  it('allows ES256 and RS256 tokens from a local JWKS file and maps claims', async () => {
    for (const key of [es, rs]) {
      const res = await check(await signToken(key, { issuer: ISSUER, claims: { roles: ['data_scientist'], org: 'acme' } }));
      expect(res.status.code).toBe(0);
      const headers = Object.fromEntries(res.ok_response!.headers.map((h) => [h.header.key, h.header.value]));
      expect(headers['x-modelgate-subject']).toBe('jwt:local:alice');
      expect(headers['x-modelgate-roles']).toBe('data_scientist');
      expect(headers['x-modelgate-tenant']).toBe('acme');
      expect(headers['x-modelgate-auth-method']).toBe('jwt');
    }
  });

  it('reads roles from space-separated strings and attributes from claims', async () => {
    const ok = await check(await signToken(es, { issuer: ISSUER, claims: { groups: 'staff analyst', tier: 'gold' } }));
    expect(ok.status.code).toBe(0);
    expect(structToJson(ok.dynamic_metadata).rule_id).toBe('gold-only');
    const no = await check(await signToken(es, { issuer: ISSUER, claims: { groups: 'analyst', tier: 'free' } }));
    expect(no.status.code).toBe(7);
    expect(reasonOf(no)).toBe('no_matching_rule');
  });

  it('fetches a remote JWKS, refetches on an unknown kid after rotation, and survives an outage', async () => {
    const first = await check(await signToken(remoteA, { issuer: REMOTE, claims: { roles: ['data_scientist'] } }));
    expect(first.status.code).toBe(0);
    jwksServer.setKeys(remoteA, remoteB);
    const rotated = await check(await signToken(remoteB, { issuer: REMOTE, claims: { roles: ['data_scientist'] } }));
    expect(rotated.status.code).toBe(0);
    jwksServer.setDown(true);
    const during = await check(await signToken(remoteB, { issuer: REMOTE, subject: 'bob', claims: { roles: ['data_scientist'] } }));
    expect(during.status.code).toBe(0);
    const unknownKid = await signingKey('ES256', 'never-published');
    const bad = await check(await signToken(unknownKid, { issuer: REMOTE, claims: { roles: ['data_scientist'] } }));
    expect(bad.status.code).toBe(16);
    expect(reasonOf(bad)).toBe('token_key_unknown');
    jwksServer.setDown(false);
  });

  it('resolves keys through OIDC discovery', async () => {
    const res = await check(await signToken(remoteA, { issuer: OIDC, claims: { roles: ['data_scientist'] } }));
    expect(res.status.code).toBe(0);
  });

  it('caches verified tokens: the same token verifies once', async () => {
    const before = jwksServer.fetches();
    const token = await signToken(remoteA, { issuer: REMOTE, subject: 'cache', claims: { roles: ['data_scientist'] } });
    for (let i = 0; i < 5; i++) expect((await check(token)).status.code).toBe(0);
    expect(jwksServer.fetches()).toBe(before);
  });

  it('accepts the jwt_authn payload Envoy put in metadata_context', async () => {
    const payload = { iss: ISSUER, aud: 'modelgate', sub: 'carol', roles: ['data_scientist'], exp: Math.floor(Date.now() / 1000) + 60 };
    const res = await t.client.check(
      envoyCheckRequest({
        filterMetadata: {
          'envoy.filters.http.jwt_authn': {
            fields: { jwt_payload: { structValue: { fields: {
              iss: { stringValue: payload.iss }, aud: { stringValue: payload.aud }, sub: { stringValue: payload.sub },
              roles: { listValue: { values: [{ stringValue: 'data_scientist' }] } }, exp: { numberValue: payload.exp },
            } } } },
          },
        },
      }),
    );
    expect(res.status.code).toBe(0);
    expect(structToJson(res.dynamic_metadata)).toMatchObject({ subject: 'jwt:local:carol', auth_method: 'envoy_jwt' });
  });

  describe('bad tokens are denied 401 with a reason, and the server keeps answering', () => {
    const cases: Array<[string, () => Promise<string>, string]> = [
      ['malformed', async () => 'not-a-jwt', 'token_malformed'],
      ['truncated', async () => (await signToken(es, { issuer: ISSUER })).slice(0, 40), 'token_malformed'],
      ['empty segments', async () => '..', 'token_malformed'],
      ['alg none', async () => {
        const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
        const p = base64url.encode(JSON.stringify({ iss: ISSUER, aud: 'modelgate', sub: 'mallory', roles: ['data_scientist'], exp: 9999999999 }));
        return `${h}.${p}.`;
      }, 'token_algorithm_not_allowed'],
      ['HS256 signed with the RSA public key', async () => {
        const pem = await exportSPKI(rs.publicJwk as never).catch(() => JSON.stringify(rs.publicJwk));
        const h = base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'rs-1' }));
        const p = base64url.encode(JSON.stringify({ iss: ISSUER, aud: 'modelgate', sub: 'mallory', roles: ['data_scientist'], exp: 9999999999 }));
        const sig = createHmac('sha256', pem).update(`${h}.${p}`).digest('base64url');
        return `${h}.${p}.${sig}`;
      }, 'token_algorithm_not_allowed'],
      ['bad signature', async () => {
        const good = await signToken(es, { issuer: ISSUER, claims: { roles: ['data_scientist'] } });
        const other = await signingKey('ES256', 'es-1');
        const forged = await signToken(other, { issuer: ISSUER, claims: { roles: ['data_scientist'] } });
        return `${good.split('.').slice(0, 2).join('.')}.${forged.split('.')[2]}`;
      }, 'token_signature_invalid'],
      ['expired', async () => signToken(es, { issuer: ISSUER, expiresIn: -60 }), 'token_expired'],
      ['not yet valid', async () => signToken(es, { issuer: ISSUER, notBefore: 120 }), 'token_not_yet_valid'],
      ['wrong audience', async () => signToken(es, { issuer: ISSUER, audience: 'someone-else' }), 'token_audience_invalid'],
      ['unknown issuer', async () => signToken(es, { issuer: 'https://evil.test' }), 'token_issuer_unknown'],
      ['unknown kid', async () => signToken(await signingKey('ES256', 'nope'), { issuer: ISSUER }), 'token_key_unknown'],
      ['alg outside the issuer allowlist', async () => signToken(await signingKey('EdDSA', 'ed'), { issuer: ISSUER }), 'token_algorithm_not_allowed'],
      ['no exp claim', async () =>
        new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'es-1' }).setIssuer(ISSUER).setAudience('modelgate').setSubject('x').sign(es.privateKey),
      'token_claims_invalid'],
      ['oversized', async () => `${'a'.repeat(20_000)}.b.c`, 'token_malformed'],
      // Envoy (validate_mutations) refuses an x-modelgate-subject with a line break: not an identity.
      ['subject no header value can carry', async () => signToken(es, { issuer: ISSUER, subject: 'alice\r\nx-admin: 1' }), 'token_claims_invalid'],
      ['role no header value can carry', async () => signToken(es, { issuer: ISSUER, claims: { roles: ['data_scientist', 'a\u0000b'] } }), 'token_claims_invalid'],
    ];
    for (const [name, make, reason] of cases) {
      it(name, async () => {
        const res = await check(await make());
        expect(res.status.code).toBe(16);
        expect(reasonOf(res)).toBe(reason);
        const www = res.denied_response!.headers.find((h) => h.header.key === 'www-authenticate');
        expect(www?.header.value).toBe(`Bearer realm="modelgate", error="invalid_token", error_description="${reason}"`);
      });
    }
    it('still serves valid tokens afterwards', async () => {
      const res = await check(await signToken(es, { issuer: ISSUER, claims: { roles: ['data_scientist'] } }));
      expect(res.status.code).toBe(0);
    });
  });

  it('never logs the token', async () => {
    const token = await signToken(es, { issuer: ISSUER, subject: 'logcheck', claims: { roles: ['data_scientist'] } });
    await check(token);
    await check(`${token}x`);
    await new Promise((r) => setTimeout(r, 50));
    const text = JSON.stringify(t.logs);
    expect(text).toContain('logcheck');
    expect(text).not.toContain(token.split('.')[2]);
  });
});
