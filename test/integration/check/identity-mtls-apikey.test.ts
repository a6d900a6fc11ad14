// Client-certificate and API-key identity through a real gRPC socket, with generated certs and keys.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { createApiKey } from '../../../src/identity/api-key.js';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import type { PbCheckResponse } from '../../../src/grpc/envoy-types.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const meta = (res: PbCheckResponse) => structToJson(res.dynamic_metadata);
const SCORER = 'spiffe://modelgate.local/ns/ml/sa/batch-scorer';

const policy = `
policy:
  roles: { analyst: null, viewer: null }
  rules:
    - { id: analysts, effect: allow, roles: [analyst] }
    - { id: viewers-read, effect: allow, roles: [viewer], actions: [read] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
      - { pattern: '/v1/models/{model}', action: read }
`;

describe('client certificate identity', () => {
  let pki: TestPki;
  let trusting: TestGate;
  let plain: TestGate;
  beforeAll(async () => {
    pki = createTestPki();
    const mtls = (sources: string, sanitized: boolean) => `
identity:
  order: [mtls]
  mtls:
    sources: ${sources}
    xfcc_sanitized_by_proxy: ${sanitized}
    workloads:
      - { match: '${SCORER}', roles: [analyst], attributes: { org: ml-platform } }
      - { pattern: 'spiffe://modelgate.local/ns/ml/sa/*', roles: [viewer] }
${policy}`;
    plain = await startTestGate(mtls('[certificate, principal]', false));
    trusting = await startTestGate(mtls('[xfcc]', true));
  });
  afterAll(async () => {
    await plain.close();
    await trusting.close();
    pki.cleanup();
  });

  it('maps the URI SAN of the URL-encoded peer certificate to roles', async () => {
    const cert = pki.issue('scorer', { uris: [SCORER], dns: ['scorer.ml.svc'] });
    const res = await plain.client.check(envoyCheckRequest({ certificatePem: cert.certPem }));
    expect(res.status.code).toBe(0);
    expect(meta(res)).toMatchObject({ subject: `mtls:${SCORER}`, auth_method: 'mtls', roles: 'analyst', tenant: 'ml-platform' });
  });

  it('matches SPIFFE patterns, and an unmapped SAN is authenticated but forbidden', async () => {
    const other = pki.issue('other', { uris: ['spiffe://modelgate.local/ns/ml/sa/notebook'] });
    const read = await plain.client.check(envoyCheckRequest({ certificatePem: other.certPem, method: 'GET', path: '/v1/models/churn' }));
    expect(read.status.code).toBe(0);
    expect(meta(read).rule_id).toBe('viewers-read');
    const web = pki.issue('web', { uris: ['spiffe://modelgate.local/ns/web/sa/frontend'] });
    const denied = await plain.client.check(envoyCheckRequest({ certificatePem: web.certPem }));
    expect(denied.status.code).toBe(7);
    expect(denied.denied_response!.status.code).toBe('Forbidden');
    expect(meta(denied).reason).toBe('no_matching_rule');
  });

  it('uses source.principal when no certificate is sent', async () => {
    const res = await plain.client.check(envoyCheckRequest({ principal: SCORER }));
    expect(res.status.code).toBe(0);
    expect(meta(res).subject).toBe(`mtls:${SCORER}`);
  });

  it('denies a URL-encoded certificate that is not a certificate', async () => {
    const res = await plain.client.check(
      envoyCheckRequest({ certificatePem: '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n' }),
    );
    expect(res.status.code).toBe(16);
    expect(meta(res).reason).toBe('certificate_invalid');
  });

  it('ignores a spoofed x-forwarded-client-cert when the proxy is not configured to sanitize it', async () => {
    const res = await plain.client.check(
      envoyCheckRequest({ headers: { 'x-forwarded-client-cert': `By=spiffe://x;URI=${SCORER}` } }),
    );
    expect(res.status.code).toBe(16);
    expect(meta(res).reason).toBe('no_credential');
  });

  it('reads URI SANs from a sanitized x-forwarded-client-cert when trusted', async () => {
    const xfcc = `By=spiffe://modelgate.local/ns/edge/sa/envoy;Hash=abc;Subject="CN=scorer,O=ml";URI=${SCORER};DNS=scorer.ml.svc`;
    const res = await trusting.client.check(envoyCheckRequest({ headers: { 'x-forwarded-client-cert': xfcc } }));
    expect(res.status.code).toBe(0);
    expect(meta(res).subject).toBe(`mtls:${SCORER}`);
  });

  it('refuses a config that trusts XFCC without a sanitizing proxy', async () => {
    await expect(
      startTestGate(`identity:\n  mtls:\n    sources: [xfcc]\n${policy}`),
    ).rejects.toThrow(/identity\.mtls\.sources: source 'xfcc' requires xfcc_sanitized_by_proxy: true/);
  });
});

describe('API key identity', () => {
  const secret = randomBytes(32).toString('base64url');
  const good = createApiKey(Buffer.from(secret), 'reporting');
  const expired = createApiKey(Buffer.from(secret), 'old');
  const disabled = createApiKey(Buffer.from(secret), 'off');
  let t: TestGate;
  beforeAll(async () => {
    const keys = [
      { id: 'reporting', hash: good.hash, subject: 'svc:reporting', roles: ['analyst'], attributes: { org: 'finance' } },
      { id: 'old', hash: expired.hash, subject: 'svc:old', roles: ['analyst'], expires_at: '2020-01-01T00:00:00Z' },
      { id: 'off', hash: disabled.hash, subject: 'svc:off', roles: ['analyst'], disabled: true },
    ];
    t = await startTestGate(
      `identity:\n  order: [api_key]\n  api_keys:\n    header: x-api-key\n    secret_env: TEST_SECRET\n    keys_file: keys.yaml\n${policy}`,
      { env: { TEST_SECRET: secret }, files: { 'keys.yaml': stringify({ keys }) } },
    );
  });
  afterAll(async () => t.close());

  const withKey = (key: string) => t.client.check(envoyCheckRequest({ headers: { 'x-api-key': key } }));

  it('allows a valid key and strips it before the upstream', async () => {
    const res = await withKey(good.key);
    expect(res.status.code).toBe(0);
    expect(meta(res)).toMatchObject({ subject: 'api_key:svc:reporting', auth_method: 'api_key', tenant: 'finance' });
    expect(res.ok_response!.headers_to_remove).toContain('x-api-key');
  });

  it.each([
    ['a wrong secret part', () => `${good.key.slice(0, -4)}AAAA`, 'api_key_invalid'],
    ['an unknown id', () => good.key.replace('reporting', 'nobody'), 'api_key_invalid'],
    ['garbage', () => 'hello', 'api_key_invalid'],
    ['an expired key', () => expired.key, 'api_key_expired'],
    ['a disabled key', () => disabled.key, 'api_key_disabled'],
    ['an oversized key', () => 'x'.repeat(5000), 'api_key_invalid'],
  ])('denies %s with 401', async (_name, key, reason) => {
    const res = await withKey(key());
    expect(res.status.code).toBe(16);
    expect(meta(res).reason).toBe(reason);
  });

  it('refuses to start without the HMAC secret', async () => {
    await expect(startTestGate(`identity:\n  api_keys:\n    secret_env: MISSING_SECRET\n${policy}`)).rejects.toThrow(
      /identity\.api_keys\.secret_env: API key secret missing: set env MISSING_SECRET/,
    );
  });
});
