// modelgate's HTTP mode behind real Envoy: edge.yaml with docs/http-mode.md's http_service filter and cluster (verbatim) in place of gRPC ext_authz.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVOY_BIN, freePort, ROOT, type Endpoint, type Node } from '../../helpers/envoy.js';
import { startStack, type Reply, type Stack } from '../../helpers/envoy-stack.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { signToken } from '../../helpers/jwt.js';
import { BATCH_SCORER, e2eFixture, FRONTEND, gateYaml, type E2eFixture } from '../../helpers/e2e/fixture.js';

const DOC = readFileSync(path.join(ROOT, 'docs/http-mode.md'), 'utf8');

/** The fenced yaml block of docs/http-mode.md that starts with `firstLine`, parsed. */
function docBlock(firstLine: string): Node {
  const re = /```yaml\n([\s\S]*?)```/g;
  for (let m = re.exec(DOC); m; m = re.exec(DOC)) if (m[1]!.startsWith(firstLine)) return parse(m[1]!) as Node;
  throw new Error(`docs/http-mode.md has no yaml block starting with ${firstLine}`);
}

/** Starts edge.yaml with the doc's ext_authz filter in place of the gRPC one, plus the doc's cluster. */
function httpServiceEdge(modelgateHttp: Endpoint, gatePort: number): Promise<Stack> {
  const filter = docBlock('name: envoy.filters.http.ext_authz');
  const cluster = docBlock('name: modelgate_http');
  expect(filter.typed_config.validate_mutations).toBe(true); // an invalid header mutation fails loudly
  return startStack({
    gateYaml: '',
    gatePort,
    extraClusters: { [cluster.name]: modelgateHttp },
    transform: (doc) => {
      const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
      const at = hcm.http_filters.findIndex((f: Node) => f.name === filter.name);
      expect(hcm.http_filters[at].typed_config.grpc_service).toBeDefined();
      hcm.http_filters[at] = filter;
      doc.static_resources.clusters.push(cluster);
    },
  });
}

/** A JWKS nobody serves: tokens of this issuer make modelgate answer 503 identity_backend_unavailable. */
const REMOTE_ISSUER = 'https://remote.test';

/** The e2e modelgate config with the doc's server.http (on a free loopback port) and a broken issuer. */
async function httpModeGateYaml(): Promise<string> {
  const config = parse(gateYaml()) as Node;
  config.server.http = { ...docBlock('server:').server.http, address: '127.0.0.1:0' };
  const jwks_uri = `http://127.0.0.1:${await freePort()}/jwks.json`;
  config.identity.jwt.issuers.push({ name: 'remote', issuer: REMOTE_ISSUER, audiences: ['modelgate'], jwks_uri, algorithms: ['ES256'] });
  return stringify(config);
}

const json = (r: Reply) => JSON.parse(r.body) as Record<string, unknown>;
/** Every copy of a header the upstream received, duplicates included. */
const copies = (stack: Stack, name: string) => stack.upstream.valuesOf(stack.upstream.received.at(-1)!, name);

describe.skipIf(!ENVOY_BIN)('HTTP mode behind Envoy http_service (docs/http-mode.md on envoy/edge.yaml)', () => {
  let fx: E2eFixture;
  let gate: TestGate;
  let stack: Stack;
  const decisions = () => gate.logs.filter((l) => l['msg'] === 'decision');
  /** Asserts the call reached the upstream exactly once more than `before`. */
  const served = (before: number) => {
    expect(stack.upstream.received.length).toBe(before + 1);
    return stack.upstream.received.at(-1)!;
  };
  const bearer = async (subject: string, roles: string[], claims?: Record<string, unknown>) => ({
    authorization: `Bearer ${await fx.token(subject, roles, { claims })}`,
  });

  beforeAll(async () => {
    fx = await e2eFixture();
    gate = await startTestGate(await httpModeGateYaml(), { files: fx.files, env: fx.env });
    stack = await httpServiceEdge({ address: '127.0.0.1', port: gate.gate.httpPort! }, gate.gate.grpcPort);
  });
  afterAll(async () => {
    await stack?.close();
    await gate?.close();
  });

  it('refuses a client without a certificate in the handshake, before modelgate', async () => {
    const logged = decisions().length;
    await expect(stack.call(null, '/v1/models/fraud-detector')).rejects.toThrow();
    expect(decisions().length).toBe(logged);
  });

  it('proxies a mapped certificate with the identity headers set, one copy each, whatever the client sent', async () => {
    const before = stack.upstream.received.length;
    const forged = {
      'x-modelgate-subject': 'root', 'x-modelgate-roles': 'admin', 'x-modelgate-tenant': 'evil', 'x-modelgate-auth-method': 'jwt',
      // The HTTP mode's control headers, as a client would forge them: they must not reach the model server either.
      'x-ssl-client-cert': 'forged', 'x-original-uri': '/admin', 'x-original-method': 'DELETE',
    };
    const res = await stack.call('batch-scorer', '/v1/models/fraud-detector:predict', { method: 'POST', headers: forged, body: '{"features":[1]}' });
    expect(res.status).toBe(200);
    const got = served(before);
    expect(got.path).toBe('/v1/models/fraud-detector:predict');
    expect(got.body).toBe('{"features":[1]}');
    expect(copies(stack, 'x-modelgate-subject')).toEqual([`mtls:${BATCH_SCORER}`]);
    expect(copies(stack, 'x-modelgate-roles')).toEqual(['analyst']);
    expect(copies(stack, 'x-modelgate-tenant')).toEqual(['ml-platform']);
    expect(copies(stack, 'x-modelgate-auth-method')).toEqual(['mtls']);
    expect(copies(stack, 'x-modelgate-decision-id')).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    // The answer's control headers and the authorization call's own headers stay between Envoy and modelgate.
    expect(got.headers['x-envoy-auth-headers-to-remove']).toBeUndefined();
    expect(got.headers['x-ssl-client-cert']).toBeUndefined();
    expect(got.headers['x-original-uri']).toBeUndefined();
    expect(got.headers['x-original-method']).toBeUndefined();
    expect(res.headers['ratelimit']).toBeUndefined(); // no bucket for this workload
  });

  it('takes a JWT, strips Authorization, and removes a client-sent identity header modelgate did not set', async () => {
    const before = stack.upstream.received.length;
    const auth = await bearer('alice', ['data_scientist'], { org: undefined }); // no org claim: no tenant
    const res = await stack.call('frontend', '/v1/models/churn', { headers: { ...auth, 'x-modelgate-tenant': 'someone-else' } });
    expect(res.status).toBe(200);
    const got = served(before);
    expect(copies(stack, 'x-modelgate-subject')).toEqual(['jwt:test:alice']);
    expect(copies(stack, 'x-modelgate-auth-method')).toEqual(['jwt']);
    expect(got.headers['x-modelgate-tenant']).toBeUndefined();
    expect(got.headers['authorization']).toBeUndefined();
  });

  it('takes an API key and strips it before the upstream', async () => {
    const before = stack.upstream.received.length;
    const res = await stack.call('frontend', '/v1/models/fraud-detector', { headers: { 'x-api-key': fx.apiKey } });
    expect(res.status).toBe(200);
    const got = served(before);
    expect(copies(stack, 'x-modelgate-subject')).toEqual(['api_key:svc:reporting']);
    expect(copies(stack, 'x-modelgate-tenant')).toEqual(['finance']);
    expect(got.headers['x-api-key']).toBeUndefined();
  });

  it('passes a non-ASCII subject to the upstream as UTF-8 bytes (validate_mutations accepts them)', async () => {
    const res = await stack.call('frontend', '/v1/models/churn', { headers: await bearer('zoë', ['data_scientist']) });
    expect(res.status).toBe(200);
    const [raw] = copies(stack, 'x-modelgate-subject'); // Node reads header bytes as latin1
    expect(Buffer.from(raw!, 'latin1').toString('utf8')).toBe('jwt:test:zoë');
  });

  it('answers 403 with the JSON body for an unmapped SAN; request id, decision log and access log agree', async () => {
    const before = stack.upstream.received.length;
    const res = await stack.call('frontend', '/v1/models/fraud-detector:predict', { method: 'POST', headers: { 'x-request-id': 'client-chosen' }, body: '{}' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-modelgate-deny-body']).toBeUndefined(); // nginx's copy; not in allowed_client_headers
    const body = json(res);
    expect(body).toMatchObject({ error: 'forbidden', reason: 'no_matching_rule' });
    expect(body['request_id']).toMatch(/^[0-9a-f-]{36}$/); // Envoy's own id (use_remote_address), not the client's
    expect(stack.upstream.received.length).toBe(before);
    expect(decisions().at(-1)).toMatchObject({ request_id: body['request_id'], subject: `mtls:${FRONTEND}`, reason: 'no_matching_rule' });
    const line = await stack.accessLogLine((l) => l['request_id'] === body['request_id']);
    expect(line).toMatchObject({ response_code: 403, response_flags: 'UAEX', response_code_details: 'ext_authz_denied' });
  });

  it('cannot be talked into another identity or request by client-sent control headers', async () => {
    const res = await stack.call('frontend', '/v1/models/fraud-detector:predict', {
      method: 'POST',
      headers: {
        'x-ssl-client-cert': encodeURIComponent(readFileSync(path.join(stack.certs, 'batch-scorer.crt'), 'utf8')),
        'x-original-uri': '/v1/models/fraud-detector',
        'x-original-method': 'GET',
      },
    });
    expect(res.status).toBe(403);
    expect(decisions().at(-1)).toMatchObject({ subject: `mtls:${FRONTEND}`, method: 'POST', action: 'predict', reason: 'no_matching_rule' });
  });

  it.each([
    ['expired', () => fx.token('alice', ['data_scientist'], { expiresIn: -120 }), 'token_expired'],
    ['forged', () => fx.forged('alice', ['data_scientist']), 'token_signature_invalid'],
    ['malformed', async () => 'not.a.jwt', 'token_malformed'],
  ])('answers 401 with the Bearer challenge and the JSON body for an %s token', async (_name, token, reason) => {
    const res = await stack.call('batch-scorer', '/v1/models/fraud-detector', { headers: { authorization: `Bearer ${await token()}` } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="modelgate", error="invalid_token", error_description="${reason}"`);
    expect(json(res)).toEqual({ error: 'unauthenticated', reason, request_id: expect.any(String) });
  });

  it('answers 429 with Retry-After, RateLimit headers and the JSON body; allowed calls carry the budget', async () => {
    const before = stack.upstream.received.length;
    const auth = await bearer('carol', ['data_scientist']);
    const go = () => stack.call('batch-scorer', '/v1/models/fraud-detector', { headers: auth });
    const first = await go();
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit']).toMatch(/^"carol-tight";r=1;t=\d+$/);
    expect(first.headers['ratelimit-policy']).toBe('"carol-tight";q=2;w=120');
    expect((await go()).status).toBe(200);
    const over = await go();
    expect(over.status).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(over.headers['ratelimit']).toMatch(/^"carol-tight";r=0;t=\d+$/);
    expect(over.headers['content-type']).toBe('application/json');
    expect(json(over)).toMatchObject({ error: 'rate_limited', reason: 'rate_limited' });
    expect(stack.upstream.received.length).toBe(before + 2);
  });

  it('reads the model from the chat body (per-route with_request_body) and applies body rules', async () => {
    const before = stack.upstream.received.length;
    const headers = { ...(await bearer('bob', ['data_scientist'])), 'content-type': 'application/json' };
    const chat = (body: object) => stack.call('batch-scorer', '/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify(body) });
    const ok = await chat({ model: 'chat-small', max_tokens: 50 });
    expect(ok.status).toBe(200);
    expect(served(before).body).toBe('{"model":"chat-small","max_tokens":50}');
    expect(decisions().at(-1)).toMatchObject({ model: 'chat-small', action: 'predict', decision: 'allow' });
    const tooMany = await chat({ model: 'chat-small', max_tokens: 5000 });
    expect(tooMany.status).toBe(403);
    expect(json(tooMany)).toMatchObject({ reason: 'denied_by_rule' });
  });

  it('fails closed on bodies modelgate cut (past max_body_bytes) and Envoy refuses bodies past the route limit', async () => {
    const before = stack.upstream.received.length;
    const headers = { ...(await bearer('bob', ['data_scientist'])), 'content-type': 'application/json' };
    const padded = (bytes: number) => JSON.stringify({ model: 'chat-small', pad: 'x'.repeat(bytes) });
    // 100 KB: under the chat route's 256 KiB, over server.http.max_body_bytes (64 KiB): cut, never parsed.
    const cut = await stack.call('batch-scorer', '/v1/chat/completions', { method: 'POST', headers, body: padded(100_000) });
    expect(cut.status).toBe(403);
    expect(json(cut)).toMatchObject({ reason: 'target_unknown' });
    expect(decisions().at(-1)).toMatchObject({ reason: 'target_unknown', body_partial: true });
    // Over 256 KiB with allow_partial_message: false: Envoy answers 413 and never calls modelgate.
    const logged = decisions().length;
    const huge = await stack.call('batch-scorer', '/v1/chat/completions', { method: 'POST', headers, body: padded(300_000) });
    expect(huge.status).toBe(413);
    expect(decisions().length).toBe(logged);
    expect(stack.upstream.received.length).toBe(before);
  });

  it('ignores per-route context_extensions in this mode: the model and action come from policy.targets.paths', async () => {
    // The route says {model: fraud-detector, action: read}; gRPC mode would allow this POST as a read.
    const res = await stack.call('batch-scorer', '/v1/models/fraud-detector', { method: 'POST', body: '{}' });
    expect(res.status).toBe(403);
    expect(json(res)).toMatchObject({ reason: 'target_unknown' });
  });

  it('rejects encoded slashes in Envoy, judges dot segments as the path the upstream gets, refuses bad encoding', async () => {
    const logged = decisions().length;
    for (const p of ['/v1/models/fraud-detector%2F..%2Fchurn', '/v1/models/fraud-detector%5Cchurn']) {
      const res = await stack.call('batch-scorer', p);
      expect(res.status).toBe(400);
      expect(res.body).toBe('');
    }
    expect(decisions().length).toBe(logged);

    const before = stack.upstream.received.length;
    const dots = await stack.call('batch-scorer', '/v1/models/fraud-detector/../churn');
    expect(dots.status).toBe(200);
    expect(served(before).path).toBe('/v1/models/churn');
    expect(decisions().at(-1)).toMatchObject({ model: 'churn', action: 'read' });

    const bad = await stack.call('batch-scorer', '/v1/models/fraud-detector%zz');
    expect(bad.status).toBe(400);
    expect(json(bad)).toMatchObject({ error: 'bad_request', reason: 'path_invalid' });
  });

  it('answers the health route without calling modelgate (per-route disabled)', async () => {
    const logged = decisions().length;
    const res = await stack.call('frontend', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok\n');
    expect(decisions().length).toBe(logged);
  });

  it("turns modelgate's 5xx deny into Envoy's status_on_error: 503, modelgate's body and headers dropped", async () => {
    const token = await signToken(fx.key, { issuer: REMOTE_ISSUER, subject: 'eve', claims: { roles: ['data_scientist'] } });
    const errors = await stack.envoy.stat('http.edge.ext_authz.error');
    const res = await stack.call('batch-scorer', '/v1/models/fraud-detector', { headers: { authorization: `Bearer ${token}` } });
    expect(decisions().at(-1)).toMatchObject({ reason: 'identity_backend_unavailable', status: 503 });
    expect(res.status).toBe(503);
    expect(res.body).toBe('');
    expect(res.headers['content-type']).toBeUndefined();
    expect(await stack.envoy.stat('http.edge.ext_authz.error')).toBe(errors + 1);
  });
});

describe.skipIf(!ENVOY_BIN)('Envoy http_service with modelgate unreachable', () => {
  let stack: Stack;
  beforeAll(async () => {
    const dead = await freePort();
    stack = await httpServiceEdge({ address: '127.0.0.1', port: dead }, dead);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('fails closed with status_on_error 503 and never reaches the upstream', async () => {
    const res = await stack.call('batch-scorer', '/v1/models/fraud-detector');
    expect(res.status).toBe(503);
    expect(stack.upstream.received).toEqual([]);
  });
});
