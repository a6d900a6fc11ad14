// Proves limits (429 and budget headers, memory and Redis) and request bodies (model and rules from the body, 413, partial bodies fail closed) through the edge Envoy.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketKey } from '../../../src/ratelimit/keys.js';
import { differences, ENVOY_BIN, readEnvoyConfig, type Node } from '../../helpers/envoy.js';
import { startStack, type Reply, type Stack } from '../../helpers/envoy-stack.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { BATCH_SCORER, e2eFixture, gateYaml, type E2eFixture } from '../../helpers/e2e/fixture.js';

/** batch-scorer: two checks a minute; every analyst: a hundred an hour. */
const BUCKETS = `  buckets:
    - { id: scorer-minute, match: { subjects: ['mtls:${BATCH_SCORER}'] }, rate: 2, per: minute, on_redis_error: fail_closed }
    - { id: analyst-hour, match: { roles: [analyst] }, rate: 100, per: hour, on_redis_error: fail_closed }`;
const POLICY_HEADER = '"scorer-minute";q=2;w=60, "analyst-hour";q=100;w=3600';
const MAX_REQUEST_BYTES = 262_144;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const decisions = (stack: Stack) => stack.gate!.logs.filter((l) => l.msg === 'decision');

/** The IETF `RateLimit` header: bucket, remaining tokens, seconds until full. */
function rateLimit(r: Reply): { bucket: string; remaining: number; reset: number } {
  const m = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(String(r.headers['ratelimit']));
  if (!m) throw new Error(`no RateLimit header: ${JSON.stringify(r.headers)}`);
  return { bucket: m[1]!, remaining: Number(m[2]), reset: Number(m[3]) };
}

/** The access-log line of the request modelgate decided as `decisionId`. */
const accessLine = (stack: Stack, decisionId: unknown) =>
  stack.accessLogLine((l) => (l.ext_authz as Record<string, unknown> | null)?.decision_id === decisionId);

/** Three predictions by batch-scorer: two allowed with their remaining budget, the third 429. */
async function expectScorerLimited(stack: Stack): Promise<void> {
  const predict = () => stack.call('batch-scorer', '/v1/models/fraud-detector:predict', { method: 'POST', body: '{}' });
  const first = await predict();
  const second = await predict();
  const third = await predict();

  // Allowed: Envoy adds modelgate's response_headers_to_add to the model server's answer.
  expect([first.status, second.status]).toEqual([200, 200]);
  for (const r of [first, second]) expect(r.headers['ratelimit-policy']).toBe(POLICY_HEADER);
  // The tightest bucket is named: one token every 30 s, full 30 s after the first check.
  expect(rateLimit(first)).toEqual({ bucket: 'scorer-minute', remaining: 1, reset: 30 });
  expect(rateLimit(second)).toMatchObject({ bucket: 'scorer-minute', remaining: 0 });
  expect(rateLimit(second).reset).toBeGreaterThan(55);
  expect(rateLimit(second).reset).toBeLessThanOrEqual(60);
  // Response headers for the client only: the model server never sees them.
  const upstream = stack.upstream.received.slice(-2);
  for (const u of upstream) expect(Object.keys(u.headers).filter((h) => h.startsWith('ratelimit'))).toEqual([]);

  // Denied: modelgate's status, body and headers reach the client as sent.
  expect(third.status).toBe(429);
  expect(third.headers['content-type']).toBe('application/json');
  const body = JSON.parse(third.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['bucket', 'error', 'reason', 'remaining', 'request_id', 'reset_at', 'reset_seconds', 'retry_after']);
  expect(body).toMatchObject({ error: 'rate_limited', reason: 'rate_limited', bucket: 'scorer-minute', remaining: 0 });
  expect(body.request_id).toMatch(UUID);
  const retryAfter = Number(third.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(25);
  expect(retryAfter).toBeLessThanOrEqual(30);
  // The body says what the headers say: when to retry, and when the bucket is full again.
  expect(body.retry_after).toBe(retryAfter);
  expect(body.reset_seconds).toBe(rateLimit(third).reset);
  expect(Date.parse(body.reset_at as string)).toBeGreaterThan(Date.now());
  expect(third.headers['ratelimit-policy']).toBe(POLICY_HEADER);
  expect(rateLimit(third)).toMatchObject({ bucket: 'scorer-minute', remaining: 0 });
  expect(stack.upstream.received.at(-1)).toBe(upstream[1]);

  const denied = decisions(stack).at(-1)!;
  expect(denied).toMatchObject({ request_id: body.request_id, reason: 'rate_limited', status: 429 });
  const line = await accessLine(stack, denied.decision_id);
  expect(line).toMatchObject({ response_code: 429, response_flags: 'UAEX', response_code_details: 'ext_authz_denied' });
  expect(line.ext_authz).toMatchObject({ reason: 'rate_limited', ratelimit_bucket: 'scorer-minute', ratelimit_remaining: 0 });
  expect(line.ext_authz).not.toHaveProperty('ratelimit_fallback');
}

describe.skipIf(!ENVOY_BIN)('limits and bodies through the shipped edge config', () => {
  let fx: E2eFixture;
  let stack: Stack;
  let scientist: Record<string, string>;
  const chat = (body: string) => stack.call('frontend', '/v1/chat/completions', { method: 'POST', headers: scientist, body });

  beforeAll(async () => {
    fx = await e2eFixture();
    stack = await startStack({ gateYaml: gateYaml({ limits: `limits:\n${BUCKETS}` }), gateFiles: fx.files, gateEnv: fx.env });
    scientist = { authorization: `Bearer ${await fx.token('dana', ['data_scientist'])}`, 'content-type': 'application/json' };
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('in-memory limiter: 429 with Retry-After and RateLimit headers over the limit, the remaining budget on allows', async () => {
    await expectScorerLimited(stack);
    // No bucket applies to a data scientist: no budget headers at all.
    const free = await stack.call('frontend', '/v1/models/churn:predict', { method: 'POST', headers: scientist, body: '{}' });
    expect(free.status).toBe(200);
    expect(free.headers['ratelimit']).toBeUndefined();
    expect(free.headers['ratelimit-policy']).toBeUndefined();
  });

  it('chat: the model comes from the body and the model server receives the whole body', async () => {
    const sent = JSON.stringify({ model: 'chat-small', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] });
    const r = await chat(sent);
    expect(r.status).toBe(200);
    const got = stack.upstream.received.at(-1)!;
    expect(got.body).toBe(sent);
    expect(got.headers['authorization']).toBeUndefined();
    expect(got.headers['x-modelgate-subject']).toBe('jwt:test:dana');
    const d = decisions(stack).at(-1)!;
    // model from the body, action from the route's context_extensions; the body as Envoy sent it.
    expect(d).toMatchObject({ decision: 'allow', model: 'chat-small', action: 'predict', rule_id: 'scientists-use', body_sha256: sha256(sent) });
    expect(d).not.toHaveProperty('body_partial');
    expect((await accessLine(stack, d.decision_id)).ext_authz).toMatchObject({ model: 'chat-small', action: 'predict' });
  });

  it('chat: max_tokens 9000 is denied by the chat-small-tokens rule that reads the body', async () => {
    const before = stack.upstream.received.length;
    const r = await chat(JSON.stringify({ model: 'chat-small', max_tokens: 9000 }));
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'forbidden', reason: 'denied_by_rule' });
    expect(decisions(stack).at(-1)).toMatchObject({ reason: 'denied_by_rule', rule_id: 'chat-small-tokens', model: 'chat-small' });
    expect(stack.upstream.received.length).toBe(before);
  });

  it('chat: a body over max_request_bytes gets 413 from Envoy; modelgate receives nothing', async () => {
    const checksBefore = decisions(stack).length;
    const okBefore = await stack.envoy.stat('http.edge.ext_authz.modelgate.ok');
    const deniedBefore = await stack.envoy.stat('http.edge.ext_authz.modelgate.denied');
    const upstreamBefore = stack.upstream.received.length;
    const big = JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'x'.repeat(MAX_REQUEST_BYTES) }] });
    const r = await chat(big);
    expect(r.status).toBe(413);
    expect(r.body).toBe('Payload Too Large');
    // No Check call at all: no decision line, no ext_authz answer counted, nothing upstream.
    expect(decisions(stack).length).toBe(checksBefore);
    expect(await stack.envoy.stat('http.edge.ext_authz.modelgate.ok')).toBe(okBefore);
    expect(await stack.envoy.stat('http.edge.ext_authz.modelgate.denied')).toBe(deniedBefore);
    expect(stack.upstream.received.length).toBe(upstreamBefore);
    const line = await stack.accessLogLine((l) => l.response_code === 413);
    expect(line).toMatchObject({ path: '/v1/chat/completions', response_code_details: 'request_payload_too_large', ext_authz: null });
  });
});

describe.skipIf(!ENVOY_BIN)('limits through the Redis limiter', () => {
  let redis: RedisServer | undefined;
  let stack: Stack;

  beforeAll(async () => {
    const fx = await e2eFixture();
    redis = await startRedis();
    const limits = `limits:\n  redis: { url: '${redis.url}' }\n${BUCKETS}`;
    stack = await startStack({ gateYaml: gateYaml({ limits }), gateFiles: fx.files, gateEnv: fx.env });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await redis?.stop();
  });

  it('the same 429 and budget headers, counted in Redis', async () => {
    // Every bucket is fail_closed: had Redis not answered, the checks would be 503, not 200/429.
    await expectScorerLimited(stack);
    const client = new Redis(redis!.url);
    try {
      expect(await client.exists(bucketKey('modelgate:rl:', `mtls:${BATCH_SCORER}`, 'scorer-minute'))).toBe(1);
    } finally {
      client.disconnect();
    }
  });
});

/** The chat route of the shipped config with `allow_partial_message: true`, the alternative docs/envoy.md describes. */
function allowPartial(doc: Node): void {
  const routes = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes as Node[];
  const route = routes.find((r) => r.match.path === '/v1/chat/completions')!;
  route.typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.with_request_body.allow_partial_message = true;
}

describe.skipIf(!ENVOY_BIN)('the allow_partial_message variant: a cut body never decides', () => {
  let fx: E2eFixture;
  let stack: Stack;
  let scientist: Record<string, string>;
  // Over the limit: instead of 413, Envoy sends modelgate the first max_request_bytes of it.
  const big = JSON.stringify({ model: 'chat-small', max_tokens: 9000, messages: [{ role: 'user', content: 'x'.repeat(MAX_REQUEST_BYTES) }] });
  const chat = (body: string) => stack.call('frontend', '/v1/chat/completions', { method: 'POST', headers: scientist, body });

  beforeAll(async () => {
    fx = await e2eFixture();
    stack = await startStack({ gateYaml: gateYaml(), gateFiles: fx.files, gateEnv: fx.env, transform: allowPartial });
    scientist = { authorization: `Bearer ${await fx.token('erin', ['data_scientist'])}`, 'content-type': 'application/json' };
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('differs from the shipped config in that one field', () => {
    const shipped = readEnvoyConfig('envoy/edge.yaml');
    const flipped = structuredClone(shipped);
    allowPartial(flipped);
    expect(differences(shipped, flipped)).toEqual([
      'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[5].typed_per_filter_config.envoy.filters.http.ext_authz.check_settings.with_request_body.allow_partial_message',
    ]);
  });

  it('the model named by a cut body is never read: 403 target_unknown', async () => {
    const r = await chat(big);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'forbidden', reason: 'target_unknown' });
    // What Envoy sent, seen by modelgate: `x-envoy-auth-partial-body: true` (body_partial is exactly
    // that header's test in decode.ts) and a body cut at max_request_bytes, 262144 of the 262226 bytes.
    expect(decisions(stack).at(-1)).toMatchObject({ reason: 'target_unknown', body_partial: true, body_sha256: sha256(big.slice(0, MAX_REQUEST_BYTES)) });
    expect(stack.upstream.received).toHaveLength(0);
  });

  it('a rule that reads the body denies a cut one with body_required, even where the whole body would be allowed', async () => {
    // The same policy, for a deployment whose chat route serves one model, so the target does not
    // need the body and the chat-small-tokens deny rule is what reads it.
    const config = path.join(stack.gate!.dir, 'modelgate.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace('model_from_body: model', 'model: chat-small'));
    expect(await stack.gate!.gate.reload()).toEqual({ ok: true });

    const cut = JSON.stringify({ model: 'chat-small', max_tokens: 10, messages: [{ role: 'user', content: 'x'.repeat(MAX_REQUEST_BYTES) }] });
    const r = await chat(cut);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'forbidden', reason: 'body_required' });
    expect(decisions(stack).at(-1)).toMatchObject({ model: 'chat-small', reason: 'body_required', rule_id: 'chat-small-tokens', body_partial: true });

    // Under the limit the body is complete: the rule reads it and the request is allowed.
    const whole = JSON.stringify({ model: 'chat-small', max_tokens: 10 });
    expect((await chat(whole)).status).toBe(200);
    expect(stack.upstream.received.map((u) => u.body)).toEqual([whole]);
    expect(decisions(stack).at(-1)).toMatchObject({ decision: 'allow', rule_id: 'scientists-use' });
    expect(decisions(stack).at(-1)).not.toHaveProperty('body_partial');
  });
});
