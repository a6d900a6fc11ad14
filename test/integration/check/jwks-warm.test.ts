// The startup JWKS fetch leaves while the process is still starting; with a tight jwks_timeout_ms
// it can time out before its answer is read. Once serving, modelgate fetches once more for issuers
// still without keys, so the first checks do not pay for the fetch (or fail it).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKey, startJwksServer, type JwksServer } from '../../helpers/jwt.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const ISSUER = 'https://warm.example';

describe('JWKS warm-up at start', () => {
  let idp: JwksServer;
  let t: TestGate | undefined;
  beforeAll(async () => {
    idp = await startJwksServer(ISSUER, await signingKey('ES256', 'k1'));
  });
  afterAll(async () => {
    await t?.close();
    await idp.close();
  });

  it('fetches again once serving when the startup fetch failed, before any check arrives', async () => {
    idp.setDown(true); // the startup fetch fails, whether or not it reaches the IdP
    t = await startTestGate(`
identity:
  order: [jwt]
  jwt:
    issuers: [{ name: warm, issuer: '${ISSUER}', audiences: [modelgate], jwks_uri: '${idp.jwksUri}', algorithms: [ES256], jwks_timeout_ms: 200 }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
`);
    idp.setDown(false); // serving now; the IdP is back
    const deadline = Date.now() + 5_000;
    const answered = () => idp.requests().filter((r) => r.status === 200);
    while (answered().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(answered()).toHaveLength(1);
    expect(t.logs.filter((l) => l.msg === 'decision')).toEqual([]); // no check asked for it
  });
});
