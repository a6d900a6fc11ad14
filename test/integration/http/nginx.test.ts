// Through a real nginx: mTLS termination (ssl_verify_client on), auth_request to modelgate's HTTP
// mode with the verified certificate, allowed requests proxied to a model-server stand-in.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { freePort, startTestNginx, type TestNginx } from '../../helpers/nginx.js';
import type { CertFiles } from '../../helpers/pki.js';
import { createHttpFixture, GATE_YAML, SCORER, type HttpFixture } from '../../helpers/http/fixture.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every copy of a header, since Node joins or drops repeats in `headers`. */
  readonly all: (name: string) => string[];
  readonly body: string;
}

let fx: HttpFixture;
let gate: TestGate;
let nginx: TestNginx;
let modelServer: Server;
const seen: Seen[] = [];

/** A real TLS client; agent: false so no connection or session is shared between client certs. */
function call(path: string, o: { port?: number; cert?: CertFiles; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: o.port ?? nginx.port,
        servername: 'localhost',
        method: o.method ?? 'GET',
        path,
        headers: o.headers,
        ca: fx.pki.ca.certPem,
        ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        const all = (name: string) => res.rawHeaders.filter((_, i) => i % 2 === 1 && res.rawHeaders[i - 1]!.toLowerCase() === name);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, all, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

beforeAll(async () => {
  fx = await createHttpFixture();
  modelServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"served_by":"model-server"}');
    });
  });
  await new Promise<void>((ok) => modelServer.listen(0, '127.0.0.1', ok));
  gate = await startTestGate(GATE_YAML, { files: fx.files });
  nginx = await startTestNginx({
    serverCertFile: fx.server.certFile,
    serverKeyFile: fx.server.keyFile,
    clientCaFile: fx.pki.ca.certFile,
    modelgatePort: gate.gate.httpPort!,
    modelServerPort: (modelServer.address() as AddressInfo).port,
  });
});

afterAll(async () => {
  await nginx?.close();
  await gate?.close();
  await new Promise<void>((ok) => (modelServer ? modelServer.close(() => ok()) : ok()));
  fx?.pki.cleanup();
});

/** The request the model server saw last, asserting it saw exactly one more than before. */
async function served(before: number): Promise<Seen> {
  expect(seen.length).toBe(before + 1);
  return seen[seen.length - 1]!;
}

describe('HTTP mode behind nginx auth_request with mTLS', () => {
  it('rejects a client without a certificate in nginx, before modelgate or the model server', async () => {
    const before = seen.length;
    const logsBefore = gate.logs.length;
    const res = await call('/v1/models/fraud-detector:predict', { method: 'POST' });
    expect(res.status).toBe(400);
    expect(res.body).toContain('No required SSL certificate was sent');
    expect(seen.length).toBe(before);
    expect(gate.logs.slice(logsBefore).filter((l) => 'decision' in l || 'reason' in l)).toEqual([]);
  });

  it('answers 403 from modelgate with the JSON body for a CA-signed certificate whose SAN is not allowed', async () => {
    const before = seen.length;
    const res = await call('/v1/models/fraud-detector:predict', { method: 'POST', cert: fx.intruder, body: '{}' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
    const body = JSON.parse(res.body) as Record<string, string>;
    expect(body).toMatchObject({ error: 'forbidden', reason: 'no_matching_rule' });
    expect(body['request_id']).toMatch(/^[0-9a-f]{32}$/); // nginx's $request_id, passed as x-request-id
    expect(seen.length).toBe(before);
  });

  it('proxies a mapped workload to the model server with the identity headers set', async () => {
    const before = seen.length;
    const res = await call('/v1/models/fraud-detector:predict', { method: 'POST', cert: fx.scorer, body: '{"features":[1]}' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ served_by: 'model-server' });
    const got = await served(before);
    expect(got.url).toBe('/v1/models/fraud-detector:predict');
    expect(got.headers['x-modelgate-subject']).toBe(`mtls:${SCORER}`);
    expect(got.headers['x-modelgate-roles']).toBe('analyst');
    expect(got.headers['x-modelgate-tenant']).toBe('ml');
    expect(got.headers['x-modelgate-auth-method']).toBe('mtls');
    expect(got.headers['x-modelgate-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(got.headers['x-ssl-client-cert']).toBeUndefined();
    expect(res.all('ratelimit')).toEqual([]); // no bucket for this workload: nginx adds no empty header
  });

  it('accepts a JWT with the right role and removes Authorization before the model server', async () => {
    const before = seen.length;
    const token = await fx.token('alice', ['data_scientist']);
    const res = await call('/v1/models/chat-small', { cert: fx.scorer, headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const got = await served(before);
    expect(got.headers['x-modelgate-subject']).toBe('jwt:test:alice');
    expect(got.headers['x-modelgate-roles']).toBe('data_scientist');
    expect(got.headers['x-modelgate-auth-method']).toBe('jwt');
    expect(got.headers['authorization']).toBeUndefined();
  });

  it('never lets client-sent identity headers through, set or unset by modelgate', async () => {
    const before = seen.length;
    const token = await fx.token('alice', ['data_scientist']);
    const res = await call('/v1/models/fraud-detector', {
      cert: fx.scorer,
      headers: { authorization: `Bearer ${token}`, 'x-modelgate-subject': 'root', 'x-modelgate-tenant': 'someone-else', 'x-modelgate-roles': 'admin' },
    });
    expect(res.status).toBe(200);
    const got = await served(before);
    expect(got.headers['x-modelgate-subject']).toBe('jwt:test:alice');
    expect(got.headers['x-modelgate-roles']).toBe('data_scientist');
    expect(got.headers['x-modelgate-tenant']).toBeUndefined(); // a JWT identity without org: no tenant at all
  });

  it('keeps client-sent control headers from the model server on an allowed request', async () => {
    const before = seen.length;
    const res = await call('/v1/models/fraud-detector:predict', {
      method: 'POST',
      cert: fx.scorer,
      headers: { 'x-ssl-client-cert': 'forged', 'x-original-uri': '/admin', 'x-original-method': 'DELETE' },
    });
    expect(res.status).toBe(200);
    const got = await served(before);
    expect([got.headers['x-ssl-client-cert'], got.headers['x-original-uri'], got.headers['x-original-method']]).toEqual([undefined, undefined, undefined]);
  });

  it('cannot be talked into another identity by a forged certificate or URI header', async () => {
    const before = seen.length;
    const res = await call('/v1/models/fraud-detector:predict', {
      method: 'POST',
      cert: fx.intruder,
      headers: {
        'x-ssl-client-cert': encodeURIComponent(fx.scorer.certPem),
        'x-original-uri': '/v1/models/fraud-detector',
        'x-original-method': 'GET',
      },
    });
    expect(res.status).toBe(403);
    expect(seen.length).toBe(before);
  });

  it('passes 401 with the Bearer challenge and the JSON body for a bad token', async () => {
    const res = await call('/v1/models/fraud-detector', { cert: fx.scorer, headers: { authorization: 'Bearer not.a.jwt' } });
    expect(res.status).toBe(401);
    expect(res.all('www-authenticate')).toEqual(['Bearer realm="modelgate", error="invalid_token", error_description="token_malformed"']);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthenticated', reason: 'token_malformed' });
  });

  it('turns an odd path into the documented 400 instead of nginx 500', async () => {
    const res = await call('/v1/models/fraud-detector%2F..%2Fchurn', { cert: fx.scorer });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'path_invalid' });
  });

  it('maps 429 through error_page with Retry-After and the JSON body', async () => {
    const before = seen.length;
    const token = await fx.token('carol', ['data_scientist']);
    const go = () => call('/v1/models/fraud-detector', { cert: fx.scorer, headers: { authorization: `Bearer ${token}` } });
    const first = await go();
    expect(first.status).toBe(200);
    expect(first.all('ratelimit')).toEqual([expect.stringMatching(/^"carol-tight";r=1;t=\d+$/)]);
    expect(first.all('ratelimit-policy')).toHaveLength(1);
    expect((await go()).status).toBe(200);
    const over = await go();
    expect(over.status).toBe(429);
    expect(over.all('ratelimit')).toHaveLength(1);
    expect(over.all('retry-after')).toHaveLength(1);
    expect(Number(over.all('retry-after')[0])).toBeGreaterThan(0);
    expect(over.all('content-type')).toEqual(['application/json']);
    expect(JSON.parse(over.body)).toMatchObject({ error: 'rate_limited', reason: 'rate_limited' });
    expect(seen.length).toBe(before + 2);
  });
});

describe('nginx with modelgate unreachable', () => {
  it('fails closed with 503 and never reaches the model server', async () => {
    const deadGate = await startTestNginx({
      serverCertFile: fx.server.certFile,
      serverKeyFile: fx.server.keyFile,
      clientCaFile: fx.pki.ca.certFile,
      modelgatePort: await freePort(),
      modelServerPort: (modelServer.address() as AddressInfo).port,
    });
    try {
      const before = seen.length;
      const res = await call('/v1/models/fraud-detector', { port: deadGate.port, cert: fx.scorer });
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toEqual({ error: 'unavailable', reason: 'authorizer_unreachable' });
      expect(seen.length).toBe(before);
    } finally {
      await deadGate.close();
    }
  });
});
