// Proves that the shipped envoy/sidecar.yaml merges the vhost's model with each route's action (and :evaluate's body), and skips modelgate on /healthz.

import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVOY_BIN } from '../../helpers/envoy.js';
import { startStack, type CallOptions, type Stack } from '../../helpers/envoy-stack.js';
import { BATCH_SCORER, FRONTEND, e2eFixture, gateYaml, type E2eFixture } from '../../helpers/e2e/fixture.js';

/** The end-to-end policy plus one rule that only the :evaluate body can satisfy. */
const EVALUATE_RULE = `
    - id: analysts-evaluate-holdout
      effect: allow
      roles: [analyst]
      models: [fraud-detector]
      actions: [evaluate]
      when: 'has(body.dataset) && body.dataset.startsWith("holdout-")'
`;


describe.skipIf(!ENVOY_BIN)('the shipped sidecar config in front of modelgate', () => {
  let fx: E2eFixture;
  let stack: Stack;
  beforeAll(async () => {
    fx = await e2eFixture();
    const yaml = gateYaml().replace('  rules:\n', `  rules:${EVALUATE_RULE}`);
    expect(yaml).toContain('analysts-evaluate-holdout');
    stack = await startStack({ gateYaml: yaml, gateFiles: fx.files, gateEnv: fx.env, envoyFile: 'envoy/sidecar.yaml' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const decisions = () => stack.gate!.logs.filter((l) => l.msg === 'decision');
  const received = () => stack.upstream.received.length;
  const lastReceived = () => stack.upstream.received.at(-1)!;

  const post = (body: string): CallOptions => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('predict: the vhost names the model, the route adds the action; batch-scorer reaches the model server', async () => {
    const { reply, access, decision } = await stack.exchange('batch-scorer', '/v1/models/fraud-detector:predict', post('{"features":[1]}'));
    expect(reply.status).toBe(200);
    expect(decision).toMatchObject({ decision: 'allow', subject: `mtls:${BATCH_SCORER}`, model: 'fraud-detector', action: 'predict', rule_id: 'analysts-predict' });
    expect(access.ext_authz).toMatchObject({ model: 'fraud-detector', action: 'predict', decision: 'allow' });
    expect(stack.upstream.valuesOf(lastReceived(), 'x-modelgate-subject')).toEqual([`mtls:${BATCH_SCORER}`]);
    expect(stack.upstream.valuesOf(lastReceived(), 'x-modelgate-decision-id')).toEqual([decision!.decision_id]);
    // No body was sent to modelgate on this route.
    expect(decision!.body_sha256).toBeUndefined();
  });

  it('read: GET on the model itself merges to fraud-detector / read', async () => {
    const { reply, decision } = await stack.exchange('batch-scorer', '/v1/models/fraud-detector');
    expect(reply.status).toBe(200);
    expect(decision).toMatchObject({ method: 'GET', model: 'fraud-detector', action: 'read', decision: 'allow' });
  });

  it('evaluate: the route sends the body, and the body decides', async () => {
    const holdout = '{"dataset":"holdout-2026-q3"}';
    const allowed = await stack.exchange('batch-scorer', '/v1/models/fraud-detector:evaluate', post(holdout));
    expect(allowed.reply.status).toBe(200);
    expect(allowed.decision).toMatchObject({ model: 'fraud-detector', action: 'evaluate', rule_id: 'analysts-evaluate-holdout' });
    expect(allowed.decision!.body_sha256).toBe(createHash('sha256').update(holdout).digest('hex'));
    expect(lastReceived().body).toBe(holdout);

    const upstream = received();
    const training = await stack.exchange('batch-scorer', '/v1/models/fraud-detector:evaluate', post('{"dataset":"train-2026"}'));
    expect(training.reply.status).toBe(403);
    expect(training.reply.body).toBe(JSON.stringify({ error: 'forbidden', reason: 'no_matching_rule', request_id: training.access.request_id }));
    expect(training.decision).toMatchObject({ model: 'fraud-detector', action: 'evaluate', reason: 'no_matching_rule' });
    expect(received()).toBe(upstream);
  });

  it('frontend is denied with modelgate\'s body; the caller\'s x-request-id is kept so both hops join', async () => {
    const upstream = received();
    for (const [target, method, action] of [
      ['/v1/models/fraud-detector:predict', 'POST', 'predict'],
      ['/v1/models/fraud-detector', 'GET', 'read'],
    ] as const) {
      const requestId = randomUUID();
      const { reply, access, decision } = await stack.exchange('frontend', target, { method, headers: { 'x-request-id': requestId } });
      expect(reply.status).toBe(403);
      expect(reply.body).toBe(JSON.stringify({ error: 'forbidden', reason: 'no_matching_rule', request_id: requestId }));
      expect(access).toMatchObject({ request_id: requestId, response_code: 403, response_flags: 'UAEX' });
      expect(decision).toMatchObject({ subject: `mtls:${FRONTEND}`, model: 'fraud-detector', action, decision: 'deny' });
    }
    expect(received()).toBe(upstream);
  });

  it('/healthz goes to the model server without a modelgate call, whoever asks', async () => {
    const before = { decisions: decisions().length, stats: await stack.extAuthzStats() };
    // frontend would be denied by modelgate: the model server answering shows no check happened.
    const { reply, access } = await stack.exchange('frontend', '/healthz');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ upstream: 'echo', path: '/healthz' });
    expect(lastReceived().rawHeaders.filter(([n]) => n.startsWith('x-modelgate-'))).toEqual([]);
    expect(access).toMatchObject({ response_code: 200, response_code_details: 'via_upstream', ext_authz: null });
    expect(decisions()).toHaveLength(before.decisions);
    expect(await stack.extAuthzStats()).toEqual(before.stats);
  });

  it('validate_mutations accepted every answer above: each check counted ok or denied, none invalid', async () => {
    const stats = await stack.extAuthzStats();
    const lines = decisions();
    expect(stats).toEqual({
      ok: lines.filter((d) => d.decision === 'allow').length,
      denied: lines.filter((d) => d.decision === 'deny').length,
      error: 0,
      invalid: 0,
    });
    expect(stats.ok).toBeGreaterThanOrEqual(3);
    expect(stats.denied).toBeGreaterThanOrEqual(3);
  });
});
