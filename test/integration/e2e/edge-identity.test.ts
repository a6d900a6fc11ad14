// Proves that through the shipped envoy/edge.yaml, with real TLS clients, modelgate's identity, RBAC and route answers arrive as it gave them.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as grpc from '@grpc/grpc-js';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';
import { ENVOY_BIN, readEnvoyConfig, type Node } from '../../helpers/envoy.js';
import { startStack, type CallOptions, type DevCert, type Reply, type Stack, envoyLikeCheckClient } from '../../helpers/envoy-stack.js';
import { BATCH_SCORER, FRONTEND, e2eFixture, gateYaml, type E2eFixture } from '../../helpers/e2e/fixture.js';

const PREDICT = '/v1/models/fraud-detector:predict';
const IDENTITY_HEADERS = ['x-modelgate-subject', 'x-modelgate-roles', 'x-modelgate-tenant', 'x-modelgate-auth-method', 'x-modelgate-decision-id'];
/** What a client might send to pose as someone else; each name twice, so a surviving copy shows. */
const FORGED = Object.fromEntries(IDENTITY_HEADERS.map((h) => [h, ['admin', 'root']]));


describe.skipIf(!ENVOY_BIN)('the shipped edge config in front of modelgate', () => {
  let fx: E2eFixture;
  let stack: Stack;
  beforeAll(async () => {
    fx = await e2eFixture();
    stack = await startStack({ gateYaml: gateYaml(), gateFiles: fx.files, gateEnv: fx.env });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const decisions = () => stack.gate!.logs.filter((l) => l.msg === 'decision');
  const received = () => stack.upstream.received.length;
  const lastReceived = () => stack.upstream.received.at(-1)!;
  const valuesOf = (name: string) => stack.upstream.valuesOf(lastReceived(), name);

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const post = (headers: Record<string, string | string[]> = {}): CallOptions => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: '{"features":[0.1,0.7]}',
  });

  describe('the Envoy -> modelgate hop is mTLS (docs/security.md)', () => {
    const request = () => envoyCheckRequest({ path: PREDICT, principal: BATCH_SCORER, contextExtensions: { model: 'fraud-detector', action: 'predict' } });

    it('Envoy gets answers over it: a mapped workload is allowed through Envoy, and by a client holding Envoy\'s certificate', async () => {
      const direct = envoyLikeCheckClient(stack.gate!.gate.grpcPort, stack.certs);
      try {
        expect((await direct.check(request())).status.code).toBe(0);
      } finally {
        direct.close();
      }
    });

    it('a caller that is not Envoy cannot claim a principal: plaintext and a workload certificate are refused in the handshake', async () => {
      const read = (name: string) => readFileSync(`${stack.certs}/${name}`);
      const options = { 'grpc.ssl_target_name_override': 'modelgate', 'grpc.default_authority': 'modelgate' };
      const plaintext = checkClient(`127.0.0.1:${stack.gate!.gate.grpcPort}`);
      // batch-scorer.crt is signed by the dev CA, not the proxy CA modelgate admits.
      const workload = checkClient(
        `127.0.0.1:${stack.gate!.gate.grpcPort}`,
        grpc.credentials.createSsl(read('ca.crt'), read('batch-scorer.key'), read('batch-scorer.crt')),
        options,
      );
      const noCert = checkClient(`127.0.0.1:${stack.gate!.gate.grpcPort}`, grpc.credentials.createSsl(read('ca.crt')), options);
      try {
        for (const client of [plaintext, workload, noCert]) {
          await expect(client.check(request(), 2_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
        }
      } finally {
        for (const client of [plaintext, workload, noCert]) client.close();
      }
    });
  });

  describe('mTLS at the edge', () => {
    it('refuses the handshake without a client certificate; modelgate never sees a check', async () => {
      const before = { decisions: decisions().length, noCert: await stack.envoy.stat(`listener.127.0.0.1_${stack.port}.ssl.fail_verify_no_cert`) };
      await expect(stack.call(null, PREDICT, post())).rejects.toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
      expect(await stack.envoy.stat(`listener.127.0.0.1_${stack.port}.ssl.fail_verify_no_cert`)).toBe(before.noCert + 1);
      expect(decisions()).toHaveLength(before.decisions);
    });

    it('refuses a certificate from another trust domain (SAN outside spiffe://modelgate.local/)', async () => {
      const before = { decisions: decisions().length, san: await stack.envoy.stat(`listener.127.0.0.1_${stack.port}.ssl.fail_verify_san`) };
      await expect(stack.call('outsider', PREDICT, post())).rejects.toMatchObject({ code: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN' });
      expect(await stack.envoy.stat(`listener.127.0.0.1_${stack.port}.ssl.fail_verify_san`)).toBe(before.san + 1);
      expect(decisions()).toHaveLength(before.decisions);
    });

    it('a mapped SPIFFE id reaches the model server with one copy of each identity header, never a client-sent one', async () => {
      const { reply, access, decision } = await stack.exchange('batch-scorer', PREDICT, post(FORGED));
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ upstream: 'echo', path: PREDICT, body: '{"features":[0.1,0.7]}' });
      expect(decision).toMatchObject({ decision: 'allow', subject: `mtls:${BATCH_SCORER}`, auth_method: 'mtls', rule_id: 'analysts-predict' });
      const expected = { subject: `mtls:${BATCH_SCORER}`, roles: 'analyst', tenant: 'ml-platform', 'auth-method': 'mtls', 'decision-id': decision!.decision_id };
      for (const [name, value] of Object.entries(expected)) expect(valuesOf(`x-modelgate-${name}`), name).toEqual([value]);
      expect(valuesOf('x-request-id')).toEqual([access.request_id]);
      expect(access).toMatchObject({ response_code: 200, response_flags: '-' });
      expect(access.ext_authz).toMatchObject({ decision: 'allow', subject: `mtls:${BATCH_SCORER}`, decision_id: decision!.decision_id });
    });

    it('an unmapped SPIFFE id gets 403 with modelgate\'s JSON body, carrying the x-request-id Envoy generated', async () => {
      const upstream = received();
      const { reply, access, decision } = await stack.exchange('frontend', PREDICT, post());
      expect(reply.status).toBe(403);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(access.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(reply.body).toBe(JSON.stringify({ error: 'forbidden', reason: 'no_matching_rule', request_id: access.request_id }));
      expect(decision).toMatchObject({ decision: 'deny', reason: 'no_matching_rule', subject: `mtls:${FRONTEND}`, status: 403 });
      expect(access).toMatchObject({ response_code: 403, response_flags: 'UAEX', response_code_details: 'ext_authz_denied' });
      expect(received()).toBe(upstream);
    });
  });

  describe('JWT and API keys (TLS with the batch-scorer certificate; modelgate tries jwt first)', () => {
    it('an allowed JWT: the model server gets the token\'s identity and no Authorization header', async () => {
      const token = await fx.token('alice', ['data_scientist']);
      const { reply, decision } = await stack.exchange('batch-scorer', PREDICT, post({ ...bearer(token), ...FORGED }));
      expect(reply.status).toBe(200);
      expect(lastReceived().headers.authorization).toBeUndefined();
      expect(lastReceived().rawHeaders.filter(([n]) => n === 'authorization')).toEqual([]);
      const expected = { subject: 'jwt:test:alice', roles: 'data_scientist', tenant: 'ml-platform', 'auth-method': 'jwt', 'decision-id': decision!.decision_id };
      for (const [name, value] of Object.entries(expected)) expect(valuesOf(`x-modelgate-${name}`), name).toEqual([value]);
    });

    it('an identity without a tenant: a client-sent x-modelgate-tenant is removed, not passed on', async () => {
      const token = await fx.token('dave', ['data_scientist'], { claims: { org: undefined } });
      const { reply } = await stack.exchange('batch-scorer', PREDICT, post({ ...bearer(token), ...FORGED }));
      expect(reply.status).toBe(200);
      expect(valuesOf('x-modelgate-tenant')).toEqual([]);
      expect(valuesOf('x-modelgate-subject')).toEqual(['jwt:test:dave']);
    });

    /** The deny modelgate gives when asked directly, for the same request id: Envoy must pass it on unchanged. */
    async function gateAnswer(token: string, requestId: string) {
      // The Check port is mTLS (edge.yaml): ask it as Envoy does.
      const direct = envoyLikeCheckClient(stack.gate!.gate.grpcPort, stack.certs);
      const res = await direct.check(
        envoyCheckRequest({
          path: PREDICT,
          headers: bearer(token),
          requestId,
          principal: BATCH_SCORER,
          contextExtensions: { model: 'fraud-detector', action: 'predict' },
        }),
      );
      direct.close();
      const headers = Object.fromEntries(res.denied_response!.headers.map((h) => [h.header.key, h.header.value]));
      return { status: res.denied_response!.status.code as unknown, body: res.denied_response!.body, headers };
    }

    const bad: Array<[string, (fx: E2eFixture) => Promise<string>, string]> = [
      ['expired', (f) => f.token('alice', ['data_scientist'], { expiresIn: -120 }), 'token_expired'],
      ['forged (signed by a key the issuer never published)', (f) => f.forged('alice', ['data_scientist']), 'token_signature_invalid'],
      // A trusted issuer's subject with a line break cannot be an x-modelgate-subject value; with
      // validate_mutations Envoy would turn the allow into its own bodiless 500 (ext_authz_invalid).
      ['with a subject no header can carry', (f) => f.token('alice\r\nx-admin: 1', ['data_scientist']), 'token_claims_invalid'],
    ];
    for (const [name, make, reason] of bad) {
      it(`a JWT ${name} gets 401, WWW-Authenticate and modelgate's body unchanged, despite the mapped certificate`, async () => {
        const token = await make(fx);
        const upstream = received();
        const { reply, access, decision } = await stack.exchange('batch-scorer', PREDICT, post(bearer(token)));
        const direct = await gateAnswer(token, String(access.request_id));
        expect(reply.status).toBe(401);
        expect(direct.status).toBe('Unauthorized'); // envoy.type.v3.StatusCode 401, by enum name
        expect(reply.body).toBe(JSON.stringify({ error: 'unauthenticated', reason, request_id: access.request_id }));
        expect(reply.body).toBe(direct.body);
        expect(reply.headers['www-authenticate']).toBe(`Bearer realm="modelgate", error="invalid_token", error_description="${reason}"`);
        expect(reply.headers['www-authenticate']).toBe(direct.headers['www-authenticate']);
        expect(reply.headers['content-type']).toBe(direct.headers['content-type']);
        expect(decision).toMatchObject({ decision: 'deny', reason, status: 401 });
        expect(access).toMatchObject({ response_code: 401, response_code_details: 'ext_authz_denied' });
        expect(received()).toBe(upstream);
      });
    }

    it('an allowed API key: the model server gets the key\'s identity and no x-api-key header', async () => {
      const { reply } = await stack.exchange('batch-scorer', PREDICT, post({ 'x-api-key': fx.apiKey, ...FORGED }));
      expect(reply.status).toBe(200);
      expect(valuesOf('x-api-key')).toEqual([]);
      expect(valuesOf('x-modelgate-subject')).toEqual(['api_key:svc:reporting']);
      expect(valuesOf('x-modelgate-auth-method')).toEqual(['api_key']);
      expect(valuesOf('x-modelgate-tenant')).toEqual(['finance']);
    });
  });

  describe('policy and routes', () => {
    it('RBAC deny: an analyst on a model no rule grants gets 403 and its body', async () => {
      const { reply, access, decision } = await stack.exchange('batch-scorer', '/v1/models/xgb:predict', post());
      expect(reply.status).toBe(403);
      expect(reply.body).toBe(JSON.stringify({ error: 'forbidden', reason: 'no_matching_rule', request_id: access.request_id }));
      expect(decision).toMatchObject({ subject: `mtls:${BATCH_SCORER}`, roles: ['analyst'], model: 'xgb', action: 'predict', reason: 'no_matching_rule' });
      expect(access.ext_authz).toMatchObject({ decision: 'deny', reason: 'no_matching_rule', model: 'xgb', action: 'predict' });
    });

    it('route context_extensions decide model and action, winning over what the path would give', async () => {
      // GET /v1/models/fraud-detector: the route says read.
      const read = await stack.exchange('batch-scorer', '/v1/models/fraud-detector');
      expect(read.reply.status).toBe(200);
      expect(read.decision).toMatchObject({ model: 'fraud-detector', action: 'read', rule_id: 'analysts-predict' });
      // POST on the same route: the path patterns know only GET here (target_unknown), the route still says read.
      const posted = await stack.exchange('batch-scorer', '/v1/models/fraud-detector', post());
      expect(posted.reply.status).toBe(200);
      expect(posted.access.ext_authz).toMatchObject({ model: 'fraud-detector', action: 'read' });
      // GET on the :predict route: the route says predict; the path alone reads as model "x:predict", action read,
      // which is what the catch-all /v1/models/ route (no context_extensions) gives for the same shape.
      const predict = await stack.exchange('batch-scorer', PREDICT);
      expect(predict.reply.status).toBe(200);
      expect(predict.decision).toMatchObject({ method: 'GET', model: 'fraud-detector', action: 'predict' });
      const byPath = await stack.exchange('batch-scorer', '/v1/models/xgb:predict');
      expect(byPath.reply.status).toBe(403);
      expect(byPath.decision).toMatchObject({ method: 'GET', model: 'xgb:predict', action: 'read', reason: 'no_matching_rule' });
    });

    it('/healthz and the 404 catch-all answer without calling modelgate', async () => {
      const before = { decisions: decisions().length, stats: await stack.extAuthzStats(), upstream: received() };
      // frontend would be denied by modelgate: a 200 shows no check happened.
      const health = await stack.exchange('frontend', '/healthz');
      expect(health.reply).toMatchObject({ status: 200, body: 'ok\n' });
      const missing = await stack.exchange('batch-scorer', '/v2/anything', post());
      expect(missing.reply).toMatchObject({ status: 404, body: '{"error":"not_found"}\n' });
      for (const { access } of [health, missing]) {
        expect(access.response_code_details).toBe('direct_response');
        expect(access.ext_authz).toBeNull();
      }
      expect(decisions()).toHaveLength(before.decisions);
      expect(await stack.extAuthzStats()).toEqual(before.stats);
      expect(received()).toBe(before.upstream);
    });
  });

  describe('validate_mutations', () => {
    it('is on in the shipped config and in the one Envoy runs', () => {
      const filterOf = (doc: Node) =>
        (doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters as Node[]).find(
          (f) => f.name === 'envoy.filters.http.ext_authz',
        )!.typed_config;
      expect(filterOf(readEnvoyConfig('envoy/edge.yaml')).validate_mutations).toBe(true);
      expect(filterOf(parse(readFileSync(stack.envoy.configFile, 'utf8'))).validate_mutations).toBe(true);
    });

    it('accepts every answer shape modelgate gives: ok/denied count each check, nothing is invalid', async () => {
      const before = await stack.extAuthzStats();
      const carol = bearer(await fx.token('carol', ['data_scientist']));
      const erin = bearer(await fx.token('erin', ['data_scientist'], { claims: { org: undefined } }));
      const budget = (r: Reply) => [r.headers['ratelimit-policy'], r.headers.ratelimit];
      // Each shape: the request, the status, and what of it the client must see.
      const shapes: Array<[DevCert, CallOptions, number, (r: Reply) => void]> = [
        ['batch-scorer', post(), 200, (r) => expect(budget(r)).toEqual([undefined, undefined])], // identity headers, tenant set
        ['batch-scorer', post(erin), 200, () => expect(valuesOf('x-modelgate-tenant')).toEqual([])], // tenant removed
        // response_headers_to_add: the remaining budget
        ['batch-scorer', post(carol), 200, (r) => expect(budget(r)).toEqual(['"carol-tight";q=2;w=120', expect.stringMatching(/^"carol-tight";r=1;t=\d+$/)])],
        ['batch-scorer', post(carol), 200, (r) => expect(r.headers.ratelimit).toMatch(/^"carol-tight";r=0;t=\d+$/)],
        ['batch-scorer', post(carol), 429, (r) => expect(r.headers['retry-after']).toMatch(/^\d+$/)], // Retry-After on a deny
        ['batch-scorer', post(bearer('not.a.jwt')), 401, (r) => expect(r.headers['www-authenticate']).toContain('token_malformed')],
        ['frontend', post(), 403, (r) => expect(JSON.parse(r.body)).toMatchObject({ reason: 'no_matching_rule' })],
      ];
      for (const [cert, options, status, see] of shapes) {
        const { reply, access } = await stack.exchange(cert, PREDICT, options);
        expect(reply.status).toBe(status);
        expect(access.response_code_details).toBe(status === 200 ? 'via_upstream' : 'ext_authz_denied');
        see(reply);
      }
      const after = await stack.extAuthzStats();
      expect(after).toEqual({ ...before, ok: before.ok + 4, denied: before.denied + 3 });
      expect(after.invalid).toBe(0);
      expect(stack.accessLog().filter((l) => l.response_code_details === 'ext_authz_invalid')).toEqual([]);
    });
  });
});
