// Proves docs/envoy.md's jwt_authn snippet, run in envoy/edge.yaml: modelgate trusts only the payload Envoy verified, and no bad token, missing token or look-alike header arrives as trusted.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVOY_BIN, ROOT, type Node } from '../../helpers/envoy.js';
import { startStack, type Reply, type Stack } from '../../helpers/envoy-stack.js';
import { jwks, signToken } from '../../helpers/jwt.js';
import { e2eFixture, gateYaml, type E2eFixture } from '../../helpers/e2e/fixture.js';

/** The fenced YAML blocks of one docs/envoy.md section, parsed: [Envoy's, modelgate's]. */
function docSnippets(heading: string): Node[] {
  const doc = readFileSync(path.join(ROOT, 'docs/envoy.md'), 'utf8');
  const start = doc.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/envoy.md has no section '${heading}'`);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Node);
}

/**
 * Applies the snippet's `http_filters` to edge.yaml: a filter edge.yaml already has gets the
 * snippet's keys added to its typed_config; a new one goes in just before the filter that follows
 * it in the snippet (jwt_authn before ext_authz).
 */
function addFilters(doc: Node, snippet: Node): void {
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const filters = hcm.http_filters as Node[];
  const added = snippet.http_filters as Node[];
  added.forEach((filter, i) => {
    const existing = filters.find((f) => f.name === filter.name);
    if (existing) return void Object.assign(existing.typed_config, filter.typed_config);
    const before = added.slice(i + 1).map((next) => filters.findIndex((f) => f.name === next.name)).find((at) => at >= 0);
    if (before === undefined) throw new Error(`snippet filter ${filter.name} has no known filter after it`);
    filters.splice(before, 0, structuredClone(filter));
  });
}

const [envoySnippet, gateSnippet] = docSnippets("Envoy's jwt_authn in front");
const provider = Object.values(envoySnippet!.http_filters[0].typed_config.providers as Record<string, Node>)[0]!;
const ISSUER = provider.issuer as string;
const AUDIENCE = (provider.audiences as string[])[0]!;

describe.skipIf(!ENVOY_BIN)("Envoy's jwt_authn in front of modelgate (docs/envoy.md snippet in envoy/edge.yaml)", () => {
  let stack: Stack;
  let fx: E2eFixture;
  const token = (sub: string, roles: string[], o: { expiresIn?: number; audience?: string } = {}) =>
    signToken(fx.key, { issuer: ISSUER, audience: o.audience ?? AUDIENCE, subject: sub, expiresIn: o.expiresIn, claims: { roles, org: 'ml-platform' } });
  const predict = (model: string, headers: Record<string, string>) =>
    stack.call('frontend', `/v1/models/${model}:predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"features":[1]}' });
  const decisions = () => stack.gate!.logs.filter((l) => l.msg === 'decision');
  const decisionFor = (requestId: string) => decisions().filter((l) => l.request_id === requestId);

  beforeAll(async () => {
    fx = await e2eFixture();
    // Both sides must name the same issuer and audience, or every token Envoy accepts is unknown to modelgate.
    expect(gateSnippet!.identity.jwt.issuers[0]).toMatchObject({ issuer: ISSUER, audiences: [AUDIENCE] });
    const trust = gateSnippet!.identity.jwt.envoy_jwt_authn as Node;
    expect(provider.payload_in_metadata).toBe(trust.payload_key);
    stack = await startStack({
      gateYaml: gateYaml({ jwtExtra: `    envoy_jwt_authn: ${JSON.stringify(trust)}` }).replaceAll('https://issuer.test', ISSUER),
      gateFiles: fx.files,
      gateEnv: fx.env,
      transform: (doc) => addFilters(doc, envoySnippet!),
      envoyFiles: { [path.basename(provider.local_jwks.filename as string)]: jwks(fx.key) },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('a valid token: modelgate trusts the verified payload, and the model server never sees the token', async () => {
    // frontend's certificate maps to no roles: the analyst role can only come from the token.
    const r = await predict('fraud-detector', { authorization: `Bearer ${await token('alice', ['analyst'])}` });
    expect(r.status).toBe(200);
    const got = stack.upstream.received.at(-1)!;
    expect(got.rawHeaders.filter(([name]) => name === 'authorization')).toEqual([]);
    expect(got.headers['x-modelgate-subject']).toBe('jwt:test:alice');
    expect(got.headers['x-modelgate-auth-method']).toBe('envoy_jwt');
    expect(got.headers['x-modelgate-roles']).toBe('analyst');
    const requestId = got.headers['x-request-id'] as string;
    expect(decisionFor(requestId)).toEqual([
      expect.objectContaining({ subject: 'jwt:test:alice', auth_method: 'envoy_jwt', roles: ['analyst'], decision: 'allow', rule_id: 'analysts-predict' }),
    ]);
    const logged = await stack.accessLogLine((l) => l.request_id === requestId);
    expect(logged.ext_authz).toMatchObject({ subject: 'jwt:test:alice', auth_method: 'envoy_jwt', decision: 'allow', model: 'fraud-detector' });
  });

  it("the payload's claims still go through modelgate's policy: a token without the role is a 403 from modelgate", async () => {
    const r = await predict('fraud-detector', { authorization: `Bearer ${await token('bob', [])}` });
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body) as { request_id: string };
    expect(body).toEqual({ error: 'forbidden', reason: 'no_matching_rule', request_id: body.request_id });
    expect(decisionFor(body.request_id)).toEqual([expect.objectContaining({ subject: 'jwt:test:bob', auth_method: 'envoy_jwt', decision: 'deny' })]);
  });

  const checks = async () => (await stack.envoy.stat('http.edge.ext_authz.modelgate.ok')) + (await stack.envoy.stat('http.edge.ext_authz.modelgate.denied'));
  const rejected: Array<{ name: string; headers: () => Promise<Record<string, string>>; status: number; body: string }> = [
    { name: 'no token', headers: async () => ({}), status: 401, body: 'Jwt is missing' },
    { name: 'a token that is no JWT', headers: async () => ({ authorization: 'Bearer not.a.jwt' }), status: 401, body: 'Jwt header is an invalid JSON' },
    {
      name: 'a forged token (right kid, unpublished key)',
      headers: async () => ({ authorization: `Bearer ${await signToken(fx.forger, { issuer: ISSUER, audience: AUDIENCE, subject: 'mallory', claims: { roles: ['data_scientist'] } })}` }),
      status: 401,
      body: 'Jwt verification fails',
    },
    { name: 'an expired token', headers: async () => ({ authorization: `Bearer ${await token('alice', ['analyst'], { expiresIn: -600 })}` }), status: 401, body: 'Jwt is expired' },
    // Envoy answers a valid signature for someone else's audience with 403, not 401.
    { name: 'a token for another audience', headers: async () => ({ authorization: `Bearer ${await token('alice', ['analyst'], { audience: 'billing' })}` }), status: 403, body: 'Audiences in Jwt are not allowed' },
  ];
  it.each(rejected)('$name: $status from Envoy, and modelgate is never asked', async ({ headers, status, body }) => {
    const before = { decisions: decisions().length, upstream: stack.upstream.received.length, checks: await checks(), log: stack.accessLog().length };
    const r: Reply = await predict('fraud-detector', await headers());
    expect(r.status).toBe(status);
    expect(r.body).toBe(body);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="/);
    const logged = await stack.accessLogLine((l) => l.response_code === status, before.log);
    expect(logged.response_code_details).toMatch(/^jwt_authn_access_denied/);
    expect(logged.ext_authz).toBeNull();
    expect(decisions().length).toBe(before.decisions);
    expect(decisionFor(String(logged.request_id))).toEqual([]);
    expect(stack.upstream.received.length).toBe(before.upstream);
    expect(await checks()).toBe(before.checks);
  });

  it('a client cannot smuggle a payload: a header named like the metadata namespace never passes the listener', async () => {
    const before = decisions().length;
    const payload = JSON.stringify({ jwt_payload: { iss: ISSUER, sub: 'mallory', roles: ['data_scientist'] } });
    const r = await predict('llm-large', { 'envoy.filters.http.jwt_authn': payload, authorization: `Bearer ${await token('alice', ['analyst'])}` });
    // headers_with_underscores_action: REJECT_REQUEST, before any filter runs.
    expect(r.status).toBe(400);
    expect(r.body).toBe('Bad Request');
    expect(decisions().length).toBe(before);
  });

  // Headers shaped like a forwarded payload (jwt_authn's forward_payload_header), claiming data_scientist.
  const smuggled = {
    'x-jwt-payload': Buffer.from(JSON.stringify({ iss: ISSUER, sub: 'mallory', roles: ['data_scientist'], exp: 9_999_999_999 })).toString('base64url'),
    'jwt-payload': JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', roles: ['data_scientist'] }),
  };

  it('a client cannot smuggle a payload: look-alike headers next to a real token change nothing', async () => {
    // Only data_scientist may call llm-large; alice's verified token says analyst.
    const r = await predict('llm-large', { ...smuggled, authorization: `Bearer ${await token('alice', ['analyst'])}` });
    expect(r.status).toBe(403);
    const body = JSON.parse(r.body) as { request_id: string };
    expect(body).toEqual({ error: 'forbidden', reason: 'no_matching_rule', request_id: body.request_id });
    expect(decisionFor(body.request_id)).toEqual([expect.objectContaining({ subject: 'jwt:test:alice', auth_method: 'envoy_jwt', roles: ['analyst'], decision: 'deny' })]);
    expect(decisions().some((l) => String(l.subject).endsWith(':mallory'))).toBe(false);
  });

  it('a client cannot smuggle a payload: look-alike headers without a token are a 401 from Envoy', async () => {
    const before = decisions().length;
    const r = await predict('llm-large', smuggled);
    expect(r.status).toBe(401);
    expect(r.body).toBe('Jwt is missing');
    expect(decisions().length).toBe(before);
  });
});
