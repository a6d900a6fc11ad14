// Issue 13, finding 4: model names are canonical before any rule sees them. With a deny on `churn`
// and an allow on `*`, every spelling an upstream would read as `churn` (a `;param`, a trailing
// space, a zero-width space, another case) is denied, over a real gRPC socket.

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
      - { match: 'spiffe://t/app', roles: [app] }
policy:
  roles: { app: null }
  rules:
    - { id: no-churn, effect: deny, models: [churn] }
    - { id: no-legacy, effect: deny, models: ['Legacy-*'] }
    - { id: everything-else, effect: allow, roles: [app], models: ['*'] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:train', methods: [POST], action: train }
      - { pattern: '/v1/models/{model}', methods: [GET], action: read }
      - { pattern: '/v1/chat/completions', methods: [POST], action: predict, model_from_body: model }
`;

describe('canonical model names (issue 13, finding 4)', () => {
  let t: TestGate;
  beforeAll(async () => {
    t = await startTestGate(config);
  });
  afterAll(async () => t.close());

  const run = async (o: EnvoyRequestOptions) => {
    const res = await t.client.check(envoyCheckRequest({ principal: 'spiffe://t/app', ...o }));
    return { code: res.status.code, http: res.denied_response?.status?.code, meta: structToJson(res.dynamic_metadata) };
  };

  it('allows other models and denies churn itself (the baseline)', async () => {
    expect(await run({ path: '/v1/models/fraud-detector:train' })).toMatchObject({ code: 0, meta: { model: 'fraud-detector' } });
    expect(await run({ path: '/v1/models/churn:train' })).toMatchObject({ code: 7, meta: { reason: 'denied_by_rule', rule_id: 'no-churn' } });
  });

  it.each([
    ['/v1/models/churn;v=1:train', 'path_invalid'],
    ['/v1/models/churn%3Bv=1:train', 'path_invalid'],
    ['/v1/models/churn%3bv=1:train', 'path_invalid'],
    ['/v1/models/churn%E2%80%8B:train', 'path_invalid'],
    ['/v1/models/churn%20:train', 'path_invalid'],
    ['/v1/models/%20churn:train', 'path_invalid'],
    ['/v1/models/churn%09:train', 'path_invalid'],
  ])('refuses %s as %s', async (path, reason) => {
    const r = await run({ path });
    expect(r).toMatchObject({ code: 3, http: 'BadRequest', meta: { decision: 'deny', reason } });
  });

  it.each(['/v1/models/Churn:train', '/v1/models/CHURN:train', '/v1/models/cHuRn:train', '/v1/models/%43hurn:train'])(
    'matches %s case-insensitively against the churn deny rule',
    async (path) => {
      const r = await run({ path });
      expect(r).toMatchObject({ code: 7, meta: { reason: 'denied_by_rule', rule_id: 'no-churn', model: 'churn' } });
    },
  );

  it('lower-cases rule globs too: a deny on Legacy-* catches legacy-v2', async () => {
    const r = await run({ path: '/v1/models/legacy-v2:train' });
    expect(r).toMatchObject({ code: 7, meta: { reason: 'denied_by_rule', rule_id: 'no-legacy', model: 'legacy-v2' } });
  });

  it('does not let a second delimiter shift the model: churn:x:train matches no route', async () => {
    const r = await run({ path: '/v1/models/churn:x:train' });
    expect(r.code).not.toBe(0);
  });

  it.each([
    ['{"model":"Churn"}', 7, 'denied_by_rule'],
    ['{"model":"churn "}', 3, 'target_invalid'],
    ['{"model":"churn;v=1"}', 3, 'target_invalid'],
    ['{"model":"churn\\u200b"}', 3, 'target_invalid'],
    ['{"model":"churn\\n"}', 3, 'target_invalid'],
  ])('denies the body model %s', async (body, code, reason) => {
    const r = await run({ path: '/v1/chat/completions', body });
    expect(r).toMatchObject({ code, meta: { decision: 'deny', reason } });
  });

  it('checks context_extensions names as well', async () => {
    const bad = await run({ path: '/anything', contextExtensions: { model: 'churn ', action: 'predict' } });
    expect(bad).toMatchObject({ code: 3, http: 'BadRequest', meta: { reason: 'target_invalid' } });
    const upper = await run({ path: '/anything', contextExtensions: { model: 'CHURN', action: 'predict' } });
    expect(upper).toMatchObject({ code: 7, meta: { reason: 'denied_by_rule', model: 'churn' } });
    const badAction = await run({ path: '/anything', contextExtensions: { model: 'fraud', action: 'pre dict' } });
    expect(badAction).toMatchObject({ code: 3, meta: { reason: 'target_invalid' } });
  });

  it('keeps real model ids usable', async () => {
    for (const model of ['gpt-4o-mini', 'meta-llama/Llama-3-8B-Instruct', 'claude-3-5-sonnet@20240620', 'anthropic.claude-v2:1', 'llama3:8b']) {
      const r = await run({ path: '/v1/chat/completions', body: JSON.stringify({ model }) });
      expect(r, model).toMatchObject({ code: 0, meta: { model: model.toLowerCase() } });
    }
    expect(await run({ path: '/v1/models/gpt-4o-mini:train' })).toMatchObject({ code: 0, meta: { model: 'gpt-4o-mini' } });
  });
});
