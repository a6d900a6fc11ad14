// A key the IdP stops publishing is a revoked key: a token modelgate verified with it (and cached)
// is verified again once a fetch no longer lists the key, and denied, instead of staying allowed
// from the cache until its exp. Real JWKS server, real gRPC socket.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { signingKey, signToken, startJwksServer, type JwksServer, type SigningKey } from '../../helpers/jwt.js';

const ISSUER = 'https://rotating.example';

describe('the verified-token cache follows JWKS rotation', () => {
  let k1: SigningKey;
  let k2: SigningKey;
  let idp: JwksServer;
  let t: TestGate;
  beforeAll(async () => {
    k1 = await signingKey('ES256', 'k1');
    k2 = await signingKey('ES256', 'k2');
    idp = await startJwksServer(ISSUER, k1);
    t = await startTestGate(`
identity:
  order: [jwt]
  jwt:
    issuers:
      - { name: rot, issuer: '${ISSUER}', audiences: [modelgate], jwks_uri: '${idp.jwksUri}', algorithms: [ES256], jwks_cooldown_seconds: 0 }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`);
  });
  afterAll(async () => {
    await t.close();
    await idp.close();
  });

  const reasonFor = async (token: string) =>
    structToJson((await t.client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }))).dynamic_metadata).reason;

  it('denies a cached token once its key left the JWKS, and keeps tokens of keys still published', async () => {
    const old = await signToken(k1, { issuer: ISSUER, subject: 'old', claims: { roles: ['analyst'] } });
    expect(await reasonFor(old)).toBe('allowed');
    expect(await reasonFor(old)).toBe('allowed'); // served from the verified-token cache

    // The IdP rotates: k2 in, k1 out. A k2 token's unknown kid makes modelgate fetch the new set.
    idp.setKeys(k2);
    const fresh = await signToken(k2, { issuer: ISSUER, subject: 'fresh', claims: { roles: ['analyst'] } });
    expect(await reasonFor(fresh)).toBe('allowed');
    expect(await reasonFor(old)).toBe('token_key_unknown');

    // Adding a key revokes nothing: the k2 token stays cached and allowed after k3 joins.
    const k3 = await signingKey('ES256', 'k3');
    idp.setKeys(k2, k3);
    expect(await reasonFor(await signToken(k3, { issuer: ISSUER, subject: 'k3', claims: { roles: ['analyst'] } }))).toBe('allowed');
    expect(await reasonFor(fresh)).toBe('allowed');
  });
});
