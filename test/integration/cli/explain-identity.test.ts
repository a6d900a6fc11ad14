// `modelgate explain` reports each identity source's credential as present or absent by asking the
// source itself, so it tells the story the server's resolver acts on. A jwt_authn payload that is
// not an object is no JWT credential to jwt.ts (the resolver moves on to mtls); explain once
// re-implemented the test, called it present, and contradicted the identity it printed below.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';

const CONFIG = `
identity:
  order: [jwt, mtls]
  jwt:
    issuers: [{ name: corp, issuer: https://login.corp.test, audiences: [models], jwks_file: jwks.json, algorithms: [ES256] }]
    envoy_jwt_authn: {}
  mtls: { sources: [principal] }
policy:
  roles: { analyst: null }
  rules:
    - { id: analysts, effect: allow, roles: [analyst], models: [fraud-detector] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
`;

/** A CheckRequest as Envoy sends it: a client certificate's SAN, and jwt_authn metadata holding `payload`. */
function checkRequest(payload: object): string {
  return JSON.stringify({
    attributes: {
      source: { principal: 'spiffe://corp.test/ns/apps/sa/batch' },
      request: { http: { method: 'POST', path: '/v1/models/fraud-detector:predict', host: 'models.corp.test', headers: {} } },
      metadata_context: { filter_metadata: { 'envoy.filters.http.jwt_authn': { fields: { jwt_payload: payload } } } },
    },
  });
}

describe('modelgate explain: credential presence comes from the identity sources', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-explain-identity-'));
    config = join(dir, 'modelgate.yaml');
    writeFileSync(config, CONFIG);
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const explainRequest = async (payload: object) => {
    const file = join(dir, 'request.json');
    writeFileSync(file, checkRequest(payload));
    return runCli(['explain', '--config', config, '--request', file, '--now', '2026-03-02T09:00:00Z']);
  };

  it('a jwt_authn payload that is not an object is no JWT credential: mtls decides, and explain says so', async () => {
    const res = await explainRequest({ stringValue: 'not-an-object' });
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain('   ○ jwt      authorization: Bearer …: absent');
    expect(res.stdout).toContain('   ● mtls     client certificate (principal): present');
    expect(res.stdout).toContain('   → mtls: subject mtls:spiffe://corp.test/ns/apps/sa/batch, roles []');
  });

  it('a jwt_authn payload object is the JWT credential, and decides before mtls', async () => {
    const res = await explainRequest({ structValue: { fields: { iss: { stringValue: 'https://login.corp.test' } } } });
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain('   ● jwt      jwt_authn metadata envoy.filters.http.jwt_authn: present');
    expect(res.stdout).toContain('   ● mtls     client certificate (principal): present');
    expect(res.stdout).toContain('   → failed: token_audience_invalid');
  });
});
