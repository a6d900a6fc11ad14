// `modelgate explain` as a child process: an allowed request, one denied by a rule, one denied by
// the limiter (after spending the budget), and one rebuilt from a decision-log line.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.js';

const CONFIG = `
identity:
  order: [jwt, mtls]
  jwt:
    issuers: [{ name: corp, issuer: https://login.corp.test, audiences: [models], jwks_uri: 'https://login.corp.test/jwks', algorithms: [RS256], claims: { attributes: { org: org } } }]
  mtls: { sources: [principal] }
policy:
  roles: { analyst: null }
  rules:
    - { id: analysts, effect: allow, roles: [analyst], models: [fraud-detector] }
    - { id: no-train, effect: deny, actions: [train] }
    - { id: finance-only, effect: deny, shadow: true, when: 'subject.attributes.org != "finance"' }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
      - { pattern: '/v1/models/{model}:train', action: train }
limits:
  buckets:
    - { id: per-analyst, rate: 1, per: hour, burst: 1, match: { roles: [analyst] } }
`;

describe('modelgate explain', () => {
  let dir: string;
  let config: string;
  const claims = JSON.stringify({ sub: 'alice', roles: ['analyst'], org: 'finance' });
  const base = () => ['explain', '--config', config, '--jwt-claims', claims, '--now', '2026-03-02T09:00:00Z'];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-explain-'));
    config = join(dir, 'modelgate.yaml');
    writeFileSync(config, CONFIG);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('explains an allowed request stage by stage', async () => {
    const res = await runCli([...base(), '--path', '/v1/models/fraud-detector:predict']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = res.stdout;
    expect(out).toContain('request   POST /v1/models/fraud-detector:predict');
    expect(out).toContain('   ● jwt      authorization: Bearer …: present');
    expect(out).toContain('   ○ mtls     client certificate (principal): absent');
    expect(out).toContain('   → jwt: subject jwt:corp:alice, roles [analyst]\n     attributes org=finance\n     from corp');
    expect(out).toContain('   → model fraud-detector, action predict');
    expect(out).toContain('   ✓ analysts (allow): matches   ← decided');
    expect(out).toContain("   ✗ no-train (deny): action 'predict' is not in [train]");
    expect(out).toContain('   ✗ finance-only (deny, shadow): condition is false: subject.attributes.org != "finance"');
    expect(out).toContain('   → allowed by analysts');
    expect(out).toContain('   • per-analyst: cost 1, capacity 1, refills 1 per hour');
    expect(out).toContain('ratelimit_bucket=per-analyst');
    expect(out).toContain('   → within budget');
    expect(out).toContain('   ALLOW http 200, grpc status 0, reason allowed');
    expect(out).toContain('   upstream header   x-modelgate-subject: jwt:corp:alice');
    expect(out).toContain('   removed header    authorization');
    // Stages appear in pipeline order.
    const order = ['1. identity', '2. target', '3. rules', '4. limits', '5. answer'].map((s) => out.indexOf(s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order[0]).toBeGreaterThan(0);
  });

  it('explains a request denied by a rule, naming the rule and skipping the limiter', async () => {
    const res = await runCli([...base(), '--path', '/v1/models/fraud-detector:train']);
    expect(res.code).toBe(1);
    const out = res.stdout;
    expect(out).toContain('   ✓ no-train (deny): matches   ← decided');
    expect(out).toContain('   · finance-only (deny, shadow): not evaluated: the check ended before this rule');
    expect(out).toContain('   → denied_by_rule by no-train');
    expect(out).toContain('4. limits\n   → not reached');
    expect(out).toContain('   DENY http 403, grpc status 7, reason denied_by_rule');
    expect(out).toContain('   body              {"error":"forbidden","reason":"denied_by_rule","request_id":"explain-0"}');
  });

  it('explains a request denied by the limiter once its budget is spent', async () => {
    const res = await runCli([...base(), '--path', '/v1/models/fraud-detector:predict', '--repeat', '2']);
    expect(res.code).toBe(1);
    const out = res.stdout;
    expect(out).toContain('   → allowed by analysts');
    expect(out).toContain('   • per-analyst: cost 1, capacity 1, refills 1 per hour');
    expect(out).toContain('ratelimit_remaining=0');
    expect(out).toContain('   → rate_limited by per-analyst, retry after 3600s');
    expect(out).toContain('   DENY http 429, grpc status 8, reason rate_limited');
    expect(out).toContain('   client header     retry-after: 3600');
  });

  it('explains a decision-log line, taking the identity as logged', async () => {
    const line = {
      level: 'debug',
      decision_id: 'd-1',
      method: 'POST',
      subject: 'jwt:corp:bob',
      auth_method: 'jwt',
      roles: ['analyst'],
      model: 'fraud-detector',
      action: 'predict',
      decision: 'allow',
      reason: 'allowed',
      trace: { identity: { ok: true, method: 'jwt', subject: 'jwt:corp:bob', roles: ['analyst'], attributes: { org: 'retail' } }, rules: {} },
      msg: 'decision',
    };
    const file = join(dir, 'decisions.log');
    writeFileSync(file, `${JSON.stringify({ ...line, decision_id: 'd-0', subject: 'jwt:corp:carol' })}\n${JSON.stringify(line)}\n`);
    const res = await runCli(['explain', '--config', config, '--request', file, '--decision-id', 'd-1']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('note      identity taken from the log line as resolved then');
    expect(res.stdout).toContain('   → jwt: subject jwt:corp:bob, roles [analyst]\n     attributes org=retail');
    expect(res.stdout).toContain('   ✓ finance-only (deny, shadow): matches');
    expect(res.stdout).toContain('   shadow rules that would have applied: finance-only');
  });
});
