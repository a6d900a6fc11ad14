// An issuer whose JWKS was never fetched (IdP down since start): checks are answered
// identity_backend_unavailable at once, and the IdP gets at most one fetch per second, not one per check.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { signingKey, signToken, startJwksServer, type JwksServer, type SigningKey } from '../../helpers/jwt.js';

const ISSUER = 'https://down.example';

describe('JWKS never fetched, IdP down', () => {
  let key: SigningKey;
  let idp: JwksServer;
  let t: TestGate;
  beforeAll(async () => {
    key = await signingKey('ES256', 'k1');
    idp = await startJwksServer(ISSUER, key);
    idp.setDown(true);
    t = await startTestGate(`
identity:
  order: [jwt]
  jwt:
    issuers:
      - { name: down, issuer: '${ISSUER}', audiences: [modelgate], jwks_uri: '${idp.jwksUri}', algorithms: [ES256] }
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

  it('answers every check without fetching for each, then recovers once the IdP answers', async () => {
    const token = await signToken(key, { issuer: ISSUER, claims: { roles: ['analyst'] } });
    const check = () => t.client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }));
    const started = idp.requests().length;
    // One after the other: each 503 comes back fast, so without the floor each check fetched anew.
    const began = performance.now();
    for (let i = 0; i < 30; i++) expect(structToJson((await check()).dynamic_metadata).reason).toBe('identity_backend_unavailable');
    const elapsedMs = performance.now() - began;
    // At most one fetch per started second of the run (plus the one the startup fetch may still hold off).
    expect(idp.requests().length - started).toBeLessThanOrEqual(Math.ceil(elapsedMs / 1_000) + 1);
    expect(idp.requests().length - started).toBeLessThan(10);

    idp.setDown(false);
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await check()).status.code).toBe(0);
  });
});
