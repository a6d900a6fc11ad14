// Policy wiring through a real gRPC socket: what the rule stage decides reaches the wire (metadata,
// deny body, status, the shadow report in the decision log), the body and context extensions reach
// the rules, and the path is normalized before matching. The rule semantics themselves (deny
// overrides, default deny, shadow, body_required, condition_error) are unit-tested in
// test/unit/policy/evaluate-rules.test.ts and test/unit/pipeline/check.test.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest, type EnvoyRequestOptions } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const config = `
identity:
  order: [mtls]
  mtls:
    sources: [principal]
    workloads:
      - { match: 'spiffe://t/ds', roles: [data_scientist], attributes: { org: ml } }
      - { match: 'spiffe://t/ds-other-org', roles: [data_scientist], attributes: { org: sales } }
      - { match: 'spiffe://t/analyst', roles: [analyst] }
policy:
  roles: { data_scientist: null, analyst: null }
  rules:
    - { id: ds-all, effect: allow, roles: [data_scientist], models: ['*'], actions: [predict, train, read] }
    - { id: analyst-predict, effect: allow, roles: [analyst], models: [fraud-detector, 'churn-*'], actions: [predict] }
    - id: no-train-outside-ml
      effect: deny
      actions: [train]
      when: 'subject.attributes.org != "ml"'
    - id: max-tokens
      effect: deny
      models: ['chat-*']
      when: 'has(body.max_tokens) && body.max_tokens > 1000'
    - { id: trial-deny-churn, effect: deny, shadow: true, roles: [analyst], models: ['churn-*'] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', methods: [POST], action: predict }
      - { pattern: '/v1/models/{model}:train', methods: [POST], action: train }
      - { pattern: '/v1/models/{model}', methods: [GET], action: read }
      - { pattern: '/v1/chat/completions', methods: [POST], action: predict, model_from_body: model }
`;

describe('policy', () => {
  let t: TestGate;
  beforeAll(async () => {
    t = await startTestGate(config);
  });
  afterAll(async () => t.close());

  const run = async (principal: string, o: EnvoyRequestOptions = {}) => {
    const res = await t.client.check(envoyCheckRequest({ principal, ...o }));
    return { code: res.status.code, meta: structToJson(res.dynamic_metadata), res };
  };

  it('allows by role and names the rule', async () => {
    const r = await run('spiffe://t/analyst');
    expect(r.code).toBe(0);
    expect(r.meta).toMatchObject({ rule_id: 'analyst-predict', model: 'fraud-detector', action: 'predict' });
  });

  it('denies by default when nothing matches', async () => {
    const r = await run('spiffe://t/analyst', { path: '/v1/models/secret-model:predict' });
    expect(r.code).toBe(7);
    expect(r.meta.reason).toBe('no_matching_rule');
    expect(r.res.denied_response!.body).toBe(JSON.stringify({ error: 'forbidden', reason: 'no_matching_rule', request_id: r.meta.request_id }));
  });

  it('reports shadow rules without changing the decision', async () => {
    const r = await run('spiffe://t/analyst', { path: '/v1/models/churn-v2:predict' });
    expect(r.code).toBe(0);
    expect(r.meta.shadow_rules).toBe('trial-deny-churn');
    await new Promise((res) => setTimeout(res, 20));
    const line = t.logs.find((l) => l.request_id === r.meta.request_id);
    expect(line?.shadow_rules).toEqual(['trial-deny-churn']);
  });

  it('decides on body fields, takes the model from an OpenAI-style body, and fails closed without a body', async () => {
    const chat = (body?: string, partial = false) =>
      run('spiffe://t/ds', { path: '/v1/chat/completions', body, partialBody: partial, contextExtensions: body ? {} : { model: 'chat-large', action: 'predict' } });
    const small = await chat('{"model":"chat-large","max_tokens":100}');
    expect(small.code).toBe(0);
    expect(small.meta.model).toBe('chat-large');
    const big = await chat('{"model":"chat-large","max_tokens":5000}');
    expect(big.meta).toMatchObject({ reason: 'denied_by_rule', rule_id: 'max-tokens' });
    const missing = await chat(undefined);
    expect(missing.meta).toMatchObject({ reason: 'body_required', rule_id: 'max-tokens' });
    // A cut body is never parsed: even a prefix that happens to be valid JSON cannot allow.
    const partial = await run('spiffe://t/ds', {
      path: '/v1/chat/completions', body: '{"model":"chat-large","max_tokens":1}', partialBody: true,
      contextExtensions: { model: 'chat-large', action: 'predict' },
    });
    expect(partial.meta.reason).toBe('body_required');
  });

  it('prefers route context_extensions over the path', async () => {
    const r = await run('spiffe://t/analyst', { path: '/anything', contextExtensions: { model: 'fraud-detector', action: 'predict' } });
    expect(r.code).toBe(0);
    expect(r.meta.model).toBe('fraud-detector');
  });

  // Every normalization case is in test/unit/policy/normalize-path.test.ts; these show it runs first.
  it.each([
    ['/v1/models/secret/../fraud-detector:predict', 0, 'fraud-detector'],
    ['/v1/models/fraud-detector/../../models/secret:predict', 7, 'secret'],
  ])('normalizes %s before matching', async (path, code, model) => {
    const r = await run('spiffe://t/analyst', { path });
    expect(r.code).toBe(code);
    expect(r.meta.model).toBe(model);
  });

  it.each([['/v1/models/a%2F..%2Fb:predict'], ['/../../etc/passwd']])('refuses the ambiguous path %s with 400', async (path) => {
    const r = await run('spiffe://t/analyst', { path });
    expect(r.code).toBe(3);
    expect(r.res.denied_response!.status.code).toBe('BadRequest');
    expect(r.meta.reason).toBe('path_invalid');
  });
});
