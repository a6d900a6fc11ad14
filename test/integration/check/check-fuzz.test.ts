// Issue 13: property-based fuzzing of the Check service over a real socket. fast-check builds hostile
// CheckRequests (headers, paths, bodies, certificates, metadata, context extensions, and raw
// mutated bytes); every answer must hold the invariants: never a crash or a gRPC error, never an
// allow without a valid credential, credentials never forwarded, every answer well formed.
// A failing run prints fast-check's seed and path: replay it with `fc.assert(..., { seed, path })`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { createApiKey } from '../../../src/identity/api-key.js';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';
import { REASONS } from '../../../src/decision/reasons.js';
import { jwks, signToken, signingKey } from '../../helpers/jwt.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { decodeCheckResponse, encodeCheckRequest, rawCheck } from '../../helpers/envoy-wire.js';

const WORKLOAD = 'spiffe://t/analyst';
const ISSUER = 'https://issuer.test';
const RUNS = Number(process.env.MODELGATE_FUZZ_RUNS ?? 250);

/** The credential a generated request carries for each source, and whether it is a valid one. */
interface Sent {
  readonly request: object;
  readonly valid: boolean;
  /** Credential strings that must never reach the upstream through an identity header. */
  readonly secrets: readonly string[];
}

describe('CheckRequest property fuzz', () => {
  let t: TestGate;
  let pki: TestPki;
  let raw: grpc.Client;
  let issuerKey: Awaited<ReturnType<typeof signingKey>>;
  const creds = {
    jwt: { valid: '', expired: '', wrongKey: '', wrongAudience: '', unknownIssuer: '', forgedPayload: '' },
    apiKey: { valid: '', unknown: '' },
    cert: { valid: '', unmapped: '' },
  };

  beforeAll(async () => {
    const key = await signingKey('ES256', 'k1');
    issuerKey = key;
    const stranger = await signingKey('ES256', 'k1'); // same kid, different key: a forgery
    const claims = { roles: ['analyst'] };
    creds.jwt.valid = await signToken(key, { issuer: ISSUER, claims, expiresIn: 3600 });
    creds.jwt.expired = await signToken(key, { issuer: ISSUER, claims, now: Date.now() - 7_200_000, expiresIn: 60 });
    creds.jwt.wrongKey = await signToken(stranger, { issuer: ISSUER, claims });
    creds.jwt.wrongAudience = await signToken(key, { issuer: ISSUER, audience: 'someone-else', claims });
    creds.jwt.unknownIssuer = await signToken(key, { issuer: 'https://elsewhere.test', claims });
    // A real signature over other claims: header and signature of one token, payload of another.
    const [h, , s] = creds.jwt.valid.split('.');
    const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: 'modelgate', sub: 'mallory', roles: ['analyst'], exp: 4e9 })).toString('base64url');
    creds.jwt.forgedPayload = `${h}.${payload}.${s}`;

    const secret = randomBytes(32).toString('hex');
    const good = createApiKey(Buffer.from(secret), 'fuzz');
    creds.apiKey.valid = good.key;
    creds.apiKey.unknown = createApiKey(Buffer.from(secret), 'nobody').key;

    pki = createTestPki();
    creds.cert.valid = pki.issue('analyst', { uris: [WORKLOAD] }).certPem;
    creds.cert.unmapped = pki.issue('other', { uris: ['spiffe://t/other'] }).certPem;

    t = await startTestGate(
      `
identity:
  order: [jwt, api_key, mtls]
  jwt:
    issuers: [{ name: t, issuer: '${ISSUER}', audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256] }]
  api_keys: { header: x-api-key, secret_env: FUZZ_SECRET, keys_file: keys.yaml }
  mtls:
    sources: [certificate, principal]
    workloads: [{ match: '${WORKLOAD}', roles: [analyst] }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
      - { pattern: '/v1/chat/completions', action: chat, model_from_body: model }
`,
      {
        env: { FUZZ_SECRET: secret },
        files: {
          'jwks.json': jwks(key),
          'keys.yaml': stringify({ keys: [{ id: 'fuzz', hash: good.hash, subject: 'svc:fuzz', roles: ['analyst'] }] }),
        },
      },
    );
    raw = new grpc.Client(t.address, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    raw?.close();
    await t?.close();
    pki?.cleanup();
  });

  const check = (bytes: Buffer) => rawCheck(raw, bytes);
  const encode = encodeCheckRequest;

  /** Hostile text: control characters, separators, unicode, percent-encodings, very long runs. */
  const hostile = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('\r\nx-injected: 1', '\0', ' padded ', '%00', '%2e%2e/', ';v=1', '..', '\u200b', 'é', '<script>', '"},{"', 'a'.repeat(5000)),
  );
  const headerName = fc.oneof(
    fc.constantFrom('x-modelgate-subject', 'x-modelgate-roles', 'x-modelgate-tenant', 'x-forwarded-client-cert', 'x-jwt-assertion', 'cookie', 'x-envoy-auth-partial-body'),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
    fc.string({ maxLength: 12 }),
  );
  const path = fc.oneof(
    fc.constantFrom('/v1/models/churn:predict', '/v1/chat/completions', '/v1/models/a%2fb:predict', '/v1/models/../x:predict', '/v1/models/churn;v=1:predict', '//v1/models/churn:predict'),
    fc.tuple(fc.constant('/v1/models/'), hostile, fc.constant(':predict')).map((p) => p.join('')),
    hostile,
  );
  const body = fc.option(
    fc.oneof(
      hostile,
      fc.json({ maxDepth: 3 }),
      fc.record({ model: hostile, max_tokens: fc.oneof(fc.integer(), fc.constant(null), fc.string()), messages: fc.array(fc.record({ role: hostile, content: hostile }), { maxLength: 3 }) }).map((b) => JSON.stringify(b)),
      fc.constant('{"model": "churn", "messages": [[[[[[[[[['),
    ),
    { nil: undefined },
  );

  // hostileClaims: a token our issuer really signed, whose sub, roles and org are hostile text.
  const jwtChoice = fc.constantFrom('none', 'valid', 'hostileClaims', 'expired', 'wrongKey', 'wrongAudience', 'unknownIssuer', 'forgedPayload', 'garbage', 'truncated');
  const scheme = fc.constantFrom('Bearer ', 'bearer ', 'Basic ', '', 'Bearer  ');
  const apiKeyChoice = fc.constantFrom('none', 'valid', 'unknown', 'garbage', 'validPlusJunk');
  const principalChoice = fc.constantFrom('none', 'valid', 'other', 'near', 'garbage');
  const certChoice = fc.constantFrom('none', 'valid', 'unmapped', 'garbage', 'truncated');

  const request = fc
    .record({
      jwt: jwtChoice,
      scheme,
      apiKey: apiKeyChoice,
      principal: principalChoice,
      cert: certChoice,
      garbage: hostile,
      method: fc.oneof(fc.constantFrom('POST', 'GET'), hostile),
      path,
      body,
      partial: fc.boolean(),
      headers: fc.dictionary(headerName, hostile, { maxKeys: 4 }),
      contextExtensions: fc.option(fc.dictionary(fc.constantFrom('model', 'action', 'x'), hostile, { maxKeys: 3 }), { nil: undefined }),
      metadata: fc.option(fc.dictionary(fc.constantFrom('sub', 'roles', 'iss', 'aud', 'exp'), fc.oneof(hostile, fc.constant(['analyst']), fc.integer())), { nil: undefined }),
      claims: fc.record({ sub: hostile, role: hostile, org: hostile }),
    });

  async function build(g: Generated): Promise<Sent> {
      const headers: Record<string, string> = { ...g.headers };
      const secrets: string[] = [];
      let valid = false;
      if (g.jwt !== 'none') {
        const token =
          g.jwt === 'garbage'
            ? g.garbage
            : g.jwt === 'truncated'
              ? creds.jwt.valid.slice(0, -10)
              : g.jwt === 'hostileClaims'
                ? await signToken(issuerKey, { issuer: ISSUER, subject: g.claims.sub, claims: { roles: [g.claims.role, 'analyst'], org: g.claims.org } })
                : creds.jwt[g.jwt as keyof typeof creds.jwt];
        headers.authorization = `${g.scheme}${token}`;
        secrets.push(token);
        // RFC 7235: the scheme is case-insensitive and 1*SP separates it from the token; anything
        // else is not a bearer token at all.
        if ((g.jwt === 'valid' || g.jwt === 'hostileClaims') && /^bearer +$/i.test(g.scheme)) valid = true;
      }
      if (g.apiKey !== 'none') {
        const key = g.apiKey === 'garbage' ? g.garbage : g.apiKey === 'validPlusJunk' ? `${creds.apiKey.valid}x` : creds.apiKey[g.apiKey as 'valid' | 'unknown'];
        headers['x-api-key'] = key;
        secrets.push(key);
        if (g.apiKey === 'valid') valid = true;
      }
      const principal = { none: '', valid: WORKLOAD, other: 'spiffe://t/other', near: `${WORKLOAD} `, garbage: g.garbage }[g.principal];
      if (g.principal === 'valid') valid = true;
      const certificatePem = { none: undefined, valid: creds.cert.valid, unmapped: creds.cert.unmapped, garbage: g.garbage || 'x', truncated: creds.cert.valid.slice(0, 200) }[g.cert];
      if (g.cert === 'valid') valid = true;
      const pb = envoyCheckRequest({
        method: g.method,
        path: g.path,
        headers,
        body: g.body,
        partialBody: g.partial,
        principal,
        certificatePem,
        contextExtensions: g.contextExtensions,
        filterMetadata: g.metadata ? { 'envoy.filters.http.jwt_authn': jsonToStruct({ jwt_payload: g.metadata }) } : undefined,
      });
      return { request: pb, valid, secrets: secrets.filter((s) => s.length >= 8) };
  }
  type Generated = typeof request extends fc.Arbitrary<infer G> ? G : never;

  const httpStatusNames = new Set(['BadRequest', 'Unauthorized', 'Forbidden', 'NotFound', 'PayloadTooLarge', 'TooManyRequests', 'InternalServerError', 'ServiceUnavailable']);
  // eslint-disable-next-line no-control-regex
  const badValue = /[\u0000-\u0008\u000a-\u001f\u007f]/;

  /** The invariants every answer holds, whatever was asked. Returns the decoded response. */
  function expectWellFormed(bytes: Buffer, sent: Pick<Sent, 'valid' | 'secrets'>): Record<string, any> {
    const res = decodeCheckResponse(bytes);
    const code = res.status?.code ?? 0;
    const allowed = code === 0;
    expect(Boolean(res.ok_response) || Boolean(res.denied_response)).toBe(true);
    expect(Boolean(res.ok_response)).toBe(allowed);
    const reason = res.dynamic_metadata?.fields?.reason?.stringValue;
    expect(reason in REASONS, `unknown reason ${reason}`).toBe(true);
    expect(reason).not.toBe('internal_error');
    const headers = [...(res.ok_response?.headers ?? []), ...(res.ok_response?.response_headers_to_add ?? []), ...(res.denied_response?.headers ?? [])];
    for (const h of headers) {
      expect(h.header.key).toMatch(/^[a-z0-9-]+$/);
      expect(badValue.test(h.header.value), `control character in ${h.header.key}`).toBe(false);
      expect(h.header.value).toBe(h.header.value.trim());
    }
    if (allowed) {
      expect(sent.valid, `allowed without a valid credential (reason ${reason})`).toBe(true);
      expect(res.ok_response.headers_to_remove).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
      for (const h of res.ok_response.headers ?? []) {
        expect(['authorization', 'x-api-key']).not.toContain(h.header.key);
        for (const secret of sent.secrets) expect(h.header.value.includes(secret), `credential forwarded in ${h.header.key}`).toBe(false);
        expect(h.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
      }
    } else {
      expect(httpStatusNames.has(res.denied_response.status.code), `status ${res.denied_response.status.code}`).toBe(true);
      const payload = JSON.parse(res.denied_response.body) as Record<string, unknown>;
      expect(payload.reason).toBe(reason);
      expect(typeof payload.error).toBe('string');
      for (const secret of sent.secrets) expect(res.denied_response.body.includes(secret)).toBe(false);
    }
    return res;
  }

  it('structured requests: never a crash, never an allow without a valid credential, credentials never forwarded', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (generated) => {
        const sent = await build(generated);
        expectWellFormed(await check(encode(sent.request)), sent);
      }),
      { numRuns: RUNS },
    );
  });

  it('raw bytes: random and mutated CheckRequests are answered, never allowed', async () => {
    // No credential in the base request, so no mutation of it can be a valid one.
    const base = encode(envoyCheckRequest({ path: '/v1/models/churn:predict', body: '{"model":"churn"}', headers: { 'x-api-key': 'not-a-key' } }));
    const mutated = fc
      .array(fc.record({ at: fc.nat(base.length - 1), byte: fc.integer({ min: 0, max: 255 }), op: fc.constantFrom('set', 'cut', 'insert') }), { minLength: 1, maxLength: 6 })
      .map((edits) => {
        let bytes = Buffer.from(base);
        for (const e of edits) {
          const at = Math.min(e.at, bytes.length - 1);
          if (e.op === 'set') bytes[at] = e.byte;
          else if (e.op === 'cut') bytes = bytes.subarray(0, at);
          else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([e.byte]), bytes.subarray(at)]);
          if (bytes.length === 0) break;
        }
        return bytes;
      });
    const bytes = fc.oneof(mutated, fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)));
    await fc.assert(
      fc.asyncProperty(bytes, async (b) => {
        expectWellFormed(await check(b), { valid: false, secrets: [] });
      }),
      { numRuns: RUNS },
    );
  });

  it('still serves a valid request after the fuzzing, with no internal error logged', async () => {
    const res = expectWellFormed(await check(encode(envoyCheckRequest({ headers: { authorization: `Bearer ${creds.jwt.valid}` } }))), {
      valid: true,
      secrets: [creds.jwt.valid],
    });
    expect(res.status?.code ?? 0).toBe(0);
    expect(t.logs.filter((l) => l.reason === 'internal_error' || l.level === 'error')).toEqual([]);
  });
});
