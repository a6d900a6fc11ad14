// The JWT source with keys generated at test time and an in-memory key set (no JWKS server, no
// sockets): each way a token can be wrong has its own reason, the clock is the injected one, a
// cached identity never outlives its token, and a jwt_authn payload meets the same claim rules.

import { createLocalJWKSet, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import type { KeySource } from '../../../src/identity/jwks.js';
import { jwtSource } from '../../../src/identity/jwt.js';
import type { IdentityResult, IdentitySource } from '../../../src/identity/result.js';
import { checkInput } from '../../helpers/check-input.js';
import { jwks, signingKey, signToken, type SigningKey, type TokenOptions } from '../../helpers/jwt.js';

const ISSUER = 'https://login.corp.test';
const NOW = Date.parse('2026-03-01T12:00:00Z');

function jwtConfig(issuer: object = {}, jwt: object = {}) {
  const config = configSchema.parse({
    policy: { roles: {} },
    identity: {
      jwt: {
        issuers: [{ name: 'corp', issuer: ISSUER, audiences: ['models'], jwks_file: 'unused.json', algorithms: ['ES256'], claims: { attributes: { org: 'org' } }, ...issuer }],
        ...jwt,
      },
    },
  });
  return config.identity.jwt!;
}

let key: SigningKey;
let other: SigningKey;
let rsa: SigningKey;

function source(o: { issuer?: object; jwt?: object; onCache?: (hit: boolean) => void; keys?: KeySource } = {}): IdentitySource {
  const config = jwtConfig(o.issuer, o.jwt);
  const keys = o.keys ?? { getKey: createLocalJWKSet(JSON.parse(jwks(key, rsa))), warm: () => Promise.resolve(), revision: () => 0 };
  return jwtSource({ config, issuers: [{ config: config.issuers[0]!, keys }], onCache: o.onCache });
}

const token = (o: TokenOptions = {}, k: SigningKey = key) => signToken(k, { issuer: ISSUER, audience: 'models', now: NOW, ...o });
const bearer = (t: string) => checkInput({ headers: { authorization: `Bearer ${t}` } });
const resolve = async (s: IdentitySource, t: string, nowMs = NOW): Promise<IdentityResult> => s.resolve(bearer(t), nowMs);
const reasonOf = (r: IdentityResult) => (r.ok ? 'ok' : r.reason);

beforeAll(async () => {
  key = await signingKey('ES256', 'k1');
  other = await signingKey('ES256', 'k1'); // same kid, another key: a forgery
  rsa = await signingKey('RS256', 'r1');
});

describe('jwtSource', () => {
  it('resolves a valid token to a qualified subject, roles, scopes and attributes', async () => {
    const result = await resolve(source(), await token({ claims: { roles: ['reader'], scope: 'read write', org: 'acme' } }));
    expect(result).toEqual({
      ok: true,
      identity: { subject: 'jwt:corp:alice', method: 'jwt', roles: ['reader'], scopes: ['read', 'write'], attributes: { org: 'acme' }, issuer: 'corp', expiresAt: NOW / 1000 + 600 },
    });
  });

  it('is present for a Bearer credential only (scheme case-insensitive)', () => {
    const s = source();
    expect(s.present(checkInput({ headers: { authorization: 'bearer abc' } }))).toBe(true);
    expect(s.present(checkInput({ headers: { authorization: 'Basic YWxpY2U6cHc=' } }))).toBe(false);
    expect(s.present(checkInput())).toBe(false);
    expect(s.credentialHeaders).toEqual(['authorization']);
  });

  it('gives each broken token its own reason', async () => {
    const s = source();
    const parts = (await token()).split('.');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${parts[1]}.`;
    const cases: Array<[string, string]> = [
      ['token_expired', await token({ expiresIn: -120 })],
      ['token_not_yet_valid', await token({ notBefore: 600, expiresIn: 1200 })],
      ['token_audience_invalid', await token({ audience: 'billing' })],
      ['token_issuer_unknown', await token({ issuer: 'https://evil.test' })],
      ['token_algorithm_not_allowed', await token({}, rsa)],
      ['token_algorithm_not_allowed', none],
      ['token_signature_invalid', await token({}, other)],
      ['token_malformed', 'not.a.jwt'],
      ['token_malformed', 'x'.repeat(17 * 1024)],
      ['token_claims_invalid', await token({ claims: { roles: ['reader,admin'] } })],
    ];
    for (const [reason, t] of cases) expect([reason, reasonOf(await resolve(s, t))]).toEqual([reason, reason]);
  });

  it('denies token_key_unknown for a kid the issuer does not publish', async () => {
    const t = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k9' }).setIssuer(ISSUER).setAudience('models').setSubject('alice').setExpirationTime(NOW / 1000 + 60).sign(key.privateKey);
    expect(reasonOf(await resolve(source(), t))).toBe('token_key_unknown');
  });

  it('denies an empty bearer token as malformed rather than skipping to another source', async () => {
    const s = source();
    const input = checkInput({ headers: { authorization: 'Bearer   ' } });
    expect(s.present(input)).toBe(true);
    expect(reasonOf(await s.resolve(input, NOW))).toBe('token_malformed');
  });

  it('honours the clock skew with the injected clock', async () => {
    const t = await token({ expiresIn: -10 });
    expect(reasonOf(await resolve(source(), t))).toBe('ok'); // 10 s past exp, 30 s skew
    expect(reasonOf(await resolve(source({ issuer: { clock_skew_seconds: 0 } }), t))).toBe('token_expired');
  });

  it('caches a verified token, but never past its exp', async () => {
    const hits: boolean[] = [];
    const s = source({ onCache: (hit) => hits.push(hit) });
    const t = await token({ expiresIn: 60 });
    expect(reasonOf(await resolve(s, t))).toBe('ok');
    expect(reasonOf(await resolve(s, t, NOW + 30_000))).toBe('ok');
    expect(reasonOf(await resolve(s, t, NOW + 60_000 + 31_000))).toBe('token_expired');
    expect(hits).toEqual([false, true, false]);
  });

  it('verifies a cached token again once its issuer dropped a key (a removed key is a revoked key)', async () => {
    // A key source whose fetch the test controls: the same key set until "rotated", then k1 gone.
    let current = createLocalJWKSet(JSON.parse(jwks(key, rsa)));
    let revision = 0;
    const keys: KeySource = { getKey: (h, t) => current(h, t), warm: () => Promise.resolve(), revision: () => revision };
    const hits: boolean[] = [];
    const s = source({ keys, onCache: (hit) => hits.push(hit) });
    const t = await token();
    expect(reasonOf(await resolve(s, t))).toBe('ok');
    expect(reasonOf(await resolve(s, t))).toBe('ok'); // from the cache
    current = createLocalJWKSet(JSON.parse(jwks(rsa)));
    revision++;
    expect(reasonOf(await resolve(s, t))).toBe('token_key_unknown');
    expect(hits).toEqual([false, true, false]);
  });

  it("checks a jwt_authn payload with the issuer's own claim rules", async () => {
    const s = source({ jwt: { envoy_jwt_authn: {} } });
    const payload = (claims: object) => checkInput({ filterMetadata: { 'envoy.filters.http.jwt_authn': { jwt_payload: { iss: ISSUER, aud: 'models', sub: 'bob', exp: NOW / 1000 + 60, ...claims } } } });
    expect(s.present(payload({}))).toBe(true);
    expect(await s.resolve(payload({}), NOW)).toMatchObject({ ok: true, identity: { subject: 'jwt:corp:bob', method: 'envoy_jwt' } });
    expect(reasonOf(await s.resolve(payload({ aud: 'billing' }), NOW))).toBe('token_audience_invalid');
    expect(reasonOf(await s.resolve(payload({ iss: 'https://evil.test' }), NOW))).toBe('token_issuer_unknown');
    expect(reasonOf(await s.resolve(payload({ exp: NOW / 1000 - 120 }), NOW))).toBe('token_expired');
  });
});
