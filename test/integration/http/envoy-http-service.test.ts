// HTTP authorization mode called the way Envoy's ext_authz http_service calls it (original method,
// path_prefix + original path, allowed headers, %DOWNSTREAM_PEER_CERT% in a header), no proxy.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { createHttpFixture, GATE_YAML, INTRUDER, SCORER, type HttpFixture } from '../../helpers/http/fixture.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

let fx: HttpFixture;
let gate: TestGate;

/** Raw path on purpose: fetch() would resolve `..` before the request leaves. */
function call(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: gate.gate.httpPort, method: options.method ?? 'GET', path, headers: options.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const peerCert = (pem: string) => ({ 'x-ssl-client-cert': encodeURIComponent(pem) });

beforeAll(async () => {
  fx = await createHttpFixture();
  gate = await startTestGate(GATE_YAML, { files: fx.files });
});
afterAll(async () => {
  await gate?.close();
  fx?.pki.cleanup();
});

describe('HTTP mode, Envoy http_service shape', () => {
  it('allows a mapped client certificate and answers the identity headers with 200', async () => {
    const res = await call('/check/v1/models/fraud-detector:predict', {
      method: 'POST',
      headers: { ...peerCert(fx.scorer.certPem), 'x-request-id': 'req-allow-1' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['x-modelgate-subject']).toBe(`mtls:${SCORER}`);
    expect(res.headers['x-modelgate-roles']).toBe('analyst');
    expect(res.headers['x-modelgate-tenant']).toBe('ml');
    expect(res.headers['x-modelgate-auth-method']).toBe('mtls');
    expect(res.headers['x-modelgate-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
    const log = gate.logs.find((l) => JSON.stringify(l).includes('req-allow-1'));
    expect(JSON.stringify(log)).toContain('"allow');
  });

  it('allows a JWT with the right role and tells Envoy to remove the credential and every identity header it did not set', async () => {
    const token = await fx.token('alice', ['data_scientist']);
    const res = await call('/check/v1/models/chat-small', { headers: { authorization: `Bearer ${token}`, 'x-modelgate-tenant': 'forged' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-modelgate-subject']).toBe('jwt:test:alice');
    expect(res.headers['x-modelgate-auth-method']).toBe('jwt');
    expect(res.headers['x-modelgate-tenant']).toBeUndefined();
    expect(String(res.headers['x-envoy-auth-headers-to-remove']).split(',')).toEqual(
      expect.arrayContaining(['authorization', 'x-modelgate-tenant', 'x-original-method', 'x-original-uri', 'x-ssl-client-cert']),
    );
  });

  it('answers 401 with a Bearer challenge and the JSON body when there is no credential', async () => {
    const res = await call('/check/v1/models/fraud-detector:predict', { method: 'POST', headers: { 'x-request-id': 'req-401' } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="modelgate"');
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ error: 'unauthenticated', reason: 'no_credential', request_id: 'req-401' });
  });

  it('generates a request id when the proxy sent none, the same in the deny body and the decision log', async () => {
    const res = await call('/check/v1/models/fraud-detector:predict', { method: 'POST' });
    expect(res.status).toBe(401);
    const id = (JSON.parse(res.body) as { request_id: string }).request_id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(gate.logs.filter((l) => l.msg === 'decision' && l.request_id === id)).toHaveLength(1);
  });

  it('answers 401 invalid_token for a token from an unknown key', async () => {
    const res = await call('/check/v1/models/fraud-detector', { headers: { authorization: 'Bearer not.a.jwt' } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'token_malformed' });
  });

  it('answers 403 for a certificate whose SAN is mapped to nothing, and for a model outside the role', async () => {
    const intruder = await call('/check/v1/models/fraud-detector:predict', { method: 'POST', headers: peerCert(fx.intruder.certPem) });
    expect(intruder.status).toBe(403);
    expect(JSON.parse(intruder.body)).toMatchObject({ error: 'forbidden', reason: 'no_matching_rule' });
    expect(intruder.headers['x-modelgate-subject']).toBeUndefined();
    const log = gate.logs.find((l) => JSON.stringify(l).includes(INTRUDER));
    expect(log).toBeDefined();

    const otherModel = await call('/check/v1/models/churn:predict', { method: 'POST', headers: peerCert(fx.scorer.certPem) });
    expect(otherModel.status).toBe(403);
    expect(JSON.parse(otherModel.body)).toMatchObject({ reason: 'no_matching_rule' });
  });

  it('resolves dot segments before matching, so a/../b is a request for model b', async () => {
    const res = await call('/check/v1/models/fraud-detector/../churn', { headers: peerCert(fx.scorer.certPem) });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'no_matching_rule' });
  });

  it.each([
    ['encoded slash', '/check/v1/models/fraud-detector%2F..%2Fchurn'],
    ['encoded back slash', '/check/v1/models/fraud-detector%5Cchurn'],
    ['escaping the root', '/check/../v1/models/fraud-detector'],
    ['bad percent-encoding', '/check/v1/models/fraud-detector%zz'],
  ])('denies a path with %s as 400 path_invalid', async (_name, path) => {
    const res = await call(path, { headers: peerCert(fx.scorer.certPem) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'bad_request', reason: 'path_invalid' });
  });

  it('denies a check request outside path_prefix as request_invalid', async () => {
    const res = await call('/v1/models/fraud-detector', { headers: peerCert(fx.scorer.certPem) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'request_invalid' });
  });

  it('reads the body (with_request_body) and never decides from a cut one', async () => {
    const token = await fx.token('bob', ['data_scientist']);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const whole = await call('/check/v1/chat/completions', { method: 'POST', headers: auth, body: JSON.stringify({ model: 'chat-small' }) });
    expect(whole.status).toBe(200);

    const cutByEnvoy = await call('/check/v1/chat/completions', {
      method: 'POST',
      headers: { ...auth, 'x-envoy-auth-partial-body': 'true' },
      body: JSON.stringify({ model: 'chat-small' }),
    });
    expect(cutByEnvoy.status).toBe(403);
    expect(JSON.parse(cutByEnvoy.body)).toMatchObject({ reason: 'target_unknown' });

    // Bigger than server.http.max_body_bytes (64 KiB): cut here, so partial too.
    const big = JSON.stringify({ model: 'chat-small', pad: 'x'.repeat(70 * 1024) });
    const cutHere = await call('/check/v1/chat/completions', { method: 'POST', headers: auth, body: big });
    expect(cutHere.status).toBe(403);
    expect(JSON.parse(cutHere.body)).toMatchObject({ reason: 'target_unknown' });
  });

  it('takes method and URI from the nginx headers when present, and refuses the URI header without a method', async () => {
    const viaHeaders = await call('/anything', {
      headers: { ...peerCert(fx.scorer.certPem), 'x-original-method': 'POST', 'x-original-uri': '/v1/models/fraud-detector:predict?x=1' },
    });
    expect(viaHeaders.status).toBe(200);

    const noMethod = await call('/anything', { headers: { ...peerCert(fx.scorer.certPem), 'x-original-uri': '/v1/models/fraud-detector' } });
    expect(noMethod.status).toBe(400);
    expect(JSON.parse(noMethod.body)).toMatchObject({ reason: 'request_invalid' });
  });

  it('puts a copy of the deny body in x-modelgate-deny-body for nginx', async () => {
    const res = await call('/check/v1/models/fraud-detector', { headers: { 'x-request-id': 'req-copy' } });
    expect(res.status).toBe(401);
    expect(res.headers['x-modelgate-deny-body']).toBe(res.body);
  });

  it('answers 429 with Retry-After once the subject is over its limit', async () => {
    const token = await fx.token('carol', ['data_scientist']);
    const go = () => call('/check/v1/models/fraud-detector', { headers: { authorization: `Bearer ${token}` } });
    expect((await go()).status).toBe(200);
    expect((await go()).status).toBe(200);
    const over = await go();
    expect(over.status).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(over.body)).toMatchObject({ error: 'rate_limited', reason: 'rate_limited' });
  });
});
