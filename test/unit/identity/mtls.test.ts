// The mTLS source with certificates generated at test time (openssl, no sockets): the SAN Envoy
// names the peer by (first URI, else first DNS) is the one mapped, a second SAN never borrows a
// workload's roles, an unreadable certificate is certificate_invalid, and XFCC needs sanitizing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { mtlsSource } from '../../../src/identity/mtls.js';
import type { IdentityResult, IdentitySource } from '../../../src/identity/result.js';
import { checkInput } from '../../helpers/check-input.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';

const BILLING = 'spiffe://corp.test/ns/prod/sa/billing';
const ADMIN = 'spiffe://corp.test/ns/ops/sa/admin';

function source(mtls: object = {}): IdentitySource {
  const config = configSchema.parse({
    policy: { roles: {} },
    identity: {
      mtls: {
        workloads: [
          { match: ADMIN, subject: 'ops-admin', roles: ['admin'] },
          { pattern: 'spiffe://corp.test/ns/prod/sa/*', roles: ['reader'], attributes: { env: 'prod' } },
        ],
        ...mtls,
      },
    },
  });
  return mtlsSource(config.identity.mtls!);
}

let pki: TestPki;
const cert = (name: string, opts: { uris?: string[]; dns?: string[] }) => encodeURIComponent(pki.issue(name, opts).certPem);
const resolve = (s: IdentitySource, source: { certificate?: string; principal?: string }, headers: Record<string, string> = {}) =>
  s.resolve(checkInput({ source, headers }), 0) as IdentityResult;

beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.cleanup());

describe('mtlsSource', () => {
  it('maps a certificate by its first URI SAN: pattern workloads and exact ones', () => {
    const s = source();
    expect(resolve(s, { certificate: cert('billing', { uris: [BILLING], dns: ['billing.prod'] }) })).toEqual({
      ok: true,
      identity: { subject: `mtls:${BILLING}`, method: 'mtls', roles: ['reader'], attributes: { env: 'prod' }, issuer: BILLING },
    });
    expect(resolve(s, { certificate: cert('admin', { uris: [ADMIN] }) })).toMatchObject({ ok: true, identity: { subject: 'mtls:ops-admin', roles: ['admin'] } });
  });

  it('never maps a second SAN: a certificate naming an admin second gets no admin role', () => {
    const r = resolve(source(), { certificate: cert('sneaky', { uris: ['spiffe://corp.test/ns/dev/sa/tool', ADMIN] }) });
    expect(r).toMatchObject({ ok: true, identity: { subject: 'mtls:spiffe://corp.test/ns/dev/sa/tool', roles: [] } });
  });

  it('falls back to the first DNS SAN, and refuses a certificate with neither', () => {
    const s = source();
    expect(resolve(s, { certificate: cert('dns', { dns: ['a.prod', 'b.prod'] }) })).toMatchObject({ ok: true, identity: { subject: 'mtls:a.prod', roles: [] } });
    expect(resolve(s, { certificate: cert('bare', {}) })).toMatchObject({ ok: false, reason: 'certificate_invalid' });
    expect(resolve(s, { certificate: encodeURIComponent('-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n') })).toMatchObject({ ok: false, reason: 'certificate_invalid' });
  });

  it('takes the sources in the configured order: the certificate before the principal by default', () => {
    const s = source();
    const both = { certificate: cert('both', { uris: [BILLING] }), principal: ADMIN };
    expect(resolve(s, both)).toMatchObject({ identity: { issuer: BILLING } });
    expect(resolve(source({ sources: ['principal', 'certificate'] }), both)).toMatchObject({ identity: { issuer: ADMIN } });
    expect(resolve(s, { principal: ADMIN })).toMatchObject({ ok: true, identity: { subject: 'mtls:ops-admin' } });
  });

  it('is present only when a configured source carries something', () => {
    const s = source({ sources: ['certificate'] });
    expect(s.present(checkInput({ source: { principal: ADMIN } }))).toBe(false);
    expect(s.present(checkInput({ source: { certificate: 'x' } }))).toBe(true);
    expect(source().present(checkInput())).toBe(false);
    expect(source().credentialHeaders).toEqual([]);
  });

  it('reads XFCC only when configured (which requires the proxy to sanitize it): last element, first URI', () => {
    expect(() => source({ sources: ['xfcc'] })).toThrow(/xfcc_sanitized_by_proxy/);
    const s = source({ sources: ['xfcc'], xfcc_sanitized_by_proxy: true });
    const xfcc = `By=spiffe://corp.test/gw;URI=${ADMIN},By=spiffe://corp.test/gw;Hash=ab;Subject="CN=x,O=y";URI=${BILLING};URI=${ADMIN};DNS=b.prod`;
    expect(resolve(s, {}, { 'x-forwarded-client-cert': xfcc })).toMatchObject({ ok: true, identity: { issuer: BILLING, roles: ['reader'] } });
    expect(resolve(s, {}, { 'x-forwarded-client-cert': 'By=spiffe://corp.test/gw;Hash=ab' })).toMatchObject({ ok: false, reason: 'certificate_invalid' });
    expect(source().present(checkInput({ headers: { 'x-forwarded-client-cert': xfcc } }))).toBe(false);
  });
});
