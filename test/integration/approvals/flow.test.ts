// Just-in-time approvals end to end on one real modelgate: Check over gRPC, approvers over HTTPS
// with a JWT or a client certificate, the CLI, and the audit store that records every step.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyStore } from '../../../src/audit/verify.js';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { structToJson } from '../../../src/grpc/struct.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { signToken, signingKey, startJwksServer, type JwksServer, type SigningKey } from '../../helpers/jwt.js';
import { createTestPki, type CertFiles, type TestPki } from '../../helpers/pki.js';
import { runCli } from '../../helpers/run-cli.js';
import { approvalsEndpoint, type Caller } from '../../helpers/approvals/client.js';

const ISSUER = 'https://issuer.test';
const HASH_KEY = 'MODELGATE_TEST_APPROVALS_HASH_KEY';

describe('approvals on one instance (memory store)', () => {
  let key: SigningKey;
  let jwksServer: JwksServer;
  let pki: TestPki;
  let approverCert: CertFiles;
  let outsiderCert: CertFiles;
  let dir: string;
  let t: TestGate;
  let clock = Date.now();
  const tokens: Record<string, string> = {};
  let call: ReturnType<typeof approvalsEndpoint>;
  let base: string;

  beforeAll(async () => {
    key = await signingKey('ES256', 'k1');
    jwksServer = await startJwksServer(ISSUER, key);
    pki = createTestPki();
    const server = pki.issue('approvals-server', { ips: ['127.0.0.1'], dns: ['localhost'], server: true });
    approverCert = pki.issue('sec-lead', { uris: ['spiffe://corp.test/approver/sec-lead'] });
    outsiderCert = pki.issue('intern', { uris: ['spiffe://corp.test/people/intern'] });
    dir = mkdtempSync(join(tmpdir(), 'modelgate-approvals-'));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    for (const [name, roles] of [['ann', ['analyst']], ['bob', ['analyst']], ['lee', ['analyst', 'lead']], ['max', ['lead']]] as const) {
      tokens[name] = await signToken(key, { subject: name, claims: { roles }, expiresIn: 3600 });
    }
    t = await startTestGate(
      `
identity:
  order: [jwt, mtls]
  jwt:
    issuers:
      - { name: corp, issuer: '${ISSUER}', audiences: [modelgate], jwks_uri: '${jwksServer.jwksUri}', algorithms: [ES256] }
  mtls:
    sources: [certificate]
    workloads:
      - { match: 'spiffe://corp.test/approver/sec-lead', subject: sec-lead, roles: [lead] }
policy:
  roles: { analyst: null, lead: null }
  rules:
    - { id: analysts, effect: allow, roles: [analyst] }
    - { id: gated, effect: require_approval, roles: [analyst], models: [churn, fraud], approvers: [lead] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
      - { pattern: '/v1/models/{model}:train', action: train }
approvals:
  listen: 127.0.0.1:0
  tls: { cert_file: '${server.certFile}', key_file: '${server.keyFile}', client_ca_file: '${pki.ca.certFile}' }
  pending_ttl: 10m
  max_grant: 2h
audit:
  store: { dir: '${join(dir, 'store')}', signing_key_file: '${join(dir, 'audit.key')}', batch_max_delay: 10ms }
  privacy: { hash_key_env: ${HASH_KEY} }
  receiver: { listen: '127.0.0.1:0' }
`,
      { now: () => clock, env: { [HASH_KEY]: 'approvals-test-hash-key-0123456789' } },
    );
    base = `https://127.0.0.1:${t.gate.approvalsPort}`;
    call = approvalsEndpoint(base, pki.ca.certPem);
  });
  afterAll(async () => {
    await t?.close();
    await jwksServer?.close();
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const check = async (who: string, model: string, action = 'predict', body = '{"x":1}') => {
    const res = await t.client.check(envoyCheckRequest({ path: `/v1/models/${model}:${action}`, headers: { authorization: `Bearer ${tokens[who]}` }, body }));
    return { res, meta: structToJson(res.dynamic_metadata) as Record<string, unknown>, body: res.denied_response ? (JSON.parse(res.denied_response.body) as Record<string, unknown>) : undefined };
  };
  const jwt = (who: string): Caller => ({ token: tokens[who] });
  const cert = (c: CertFiles): Caller => ({ cert: c.certPem, key: c.keyPem });

  it('answers approval_required with a pending request id, reused for the same input', async () => {
    const first = await check('ann', 'churn');
    expect(first.res.denied_response!.status.code).toBe('Forbidden');
    expect(first.body).toMatchObject({ error: 'forbidden', reason: 'approval_required', subject: 'jwt:corp:ann', model: 'churn', action: 'predict', input_sha256: createHash('sha256').update('{"x":1}').digest('hex') });
    expect(first.body!.approval_id).toMatch(/^apr_/);
    expect(first.meta).toMatchObject({ reason: 'approval_required', rule_id: 'gated', approval_id: first.body!.approval_id, input_sha256: first.body!.input_sha256 });
    expect((await check('ann', 'churn')).body!.approval_id).toBe(first.body!.approval_id);
    expect((await check('ann', 'churn', 'predict', '{"x":2}')).body!.approval_id).not.toBe(first.body!.approval_id);
    // Not gated: the allow rule alone decides.
    expect((await check('ann', 'summarize')).res.status.code).toBe(0);
  });

  it('refuses self-approval, a caller without an approver role, and no credential', async () => {
    const own = (await check('lee', 'churn')).body!.approval_id as string;
    expect(await call('POST', `/v1/approvals/${own}/approve`, jwt('lee'))).toMatchObject({ status: 403, body: { error: 'self_approval' } });
    const anns = (await check('ann', 'churn')).body!.approval_id as string;
    expect(await call('POST', `/v1/approvals/${anns}/approve`, jwt('bob'))).toMatchObject({ status: 403, body: { error: 'not_an_approver' } });
    // A verified certificate whose SAN maps to no workload has no roles.
    expect(await call('POST', `/v1/approvals/${anns}/approve`, cert(outsiderCert))).toMatchObject({ status: 403, body: { error: 'not_an_approver' } });
    expect(await call('POST', `/v1/approvals/${anns}/approve`, {})).toMatchObject({ status: 401, body: { error: 'unauthenticated', message: 'no_credential' } });
    expect(await call('POST', `/v1/approvals/${anns}/approve`, { token: 'not.a.jwt' })).toMatchObject({ status: 401 });
    // Still pending after every refusal.
    expect((await check('ann', 'churn')).res.denied_response!.status.code).toBe('Forbidden');
  });

  it('refuses bad input with a 4xx and a reason', async () => {
    const anns = (await check('ann', 'churn')).body!.approval_id as string;
    expect(await call('POST', `/v1/approvals/${anns}/approve`, jwt('max'), '{"for":"3h"}')).toMatchObject({ status: 400, body: { error: 'grant_too_long' } });
    expect(await call('POST', `/v1/approvals/${anns}/approve`, jwt('max'), '{"for":"soon"}')).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(await call('POST', `/v1/approvals/${anns}/approve`, jwt('max'), 'not json')).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(await call('POST', '/v1/approvals/apr_nope/approve', jwt('max'))).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(await call('POST', '/v1/approvals/apr_AAAAAAAAAAAAAAAAAAAAAA/approve', jwt('max'))).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await call('GET', `/v1/approvals/${anns}/approve`, jwt('max'))).toMatchObject({ status: 405 });
    expect(await call('POST', `/v1/grants/${anns}/approve`, jwt('max'))).toMatchObject({ status: 404 });
  });

  it('a JWT approver grants (subject, model, action) and nothing else', async () => {
    const anns = (await check('ann', 'churn')).body!.approval_id as string;
    const listed = await call('GET', '/v1/approvals', jwt('max'));
    expect(listed.body.pending.map((r: { id: string }) => r.id)).toContain(anns);
    expect((await call('GET', '/v1/approvals', jwt('bob'))).body.pending).toEqual([]);
    const approved = await call('POST', `/v1/approvals/${anns}/approve`, jwt('max'), '{"for":"30m"}');
    expect(approved).toMatchObject({ status: 200, body: { grant: { approval_id: anns, subject: 'jwt:corp:ann', model: 'churn', action: 'predict', approver: 'jwt:corp:max' } } });
    expect(await call('POST', `/v1/approvals/${anns}/approve`, jwt('max'))).toMatchObject({ status: 404 });

    const allowed = await check('ann', 'churn');
    expect(allowed.res.status.code).toBe(0);
    expect(allowed.meta).toMatchObject({ decision: 'allow', rule_id: 'gated' });
    const line = t.logs.find((l) => l.msg === 'decision' && l.request_id === allowed.meta.request_id);
    expect(line?.detail).toBe(`approval grant ${approved.body.grant.id} by jwt:corp:max`);
    // Another input of the same (subject, model, action) is covered: the grant is not per body.
    expect((await check('ann', 'churn', 'predict', '{"x":3}')).res.status.code).toBe(0);
    expect((await check('ann', 'fraud')).body).toMatchObject({ reason: 'approval_required', model: 'fraud' });
    expect((await check('ann', 'churn', 'train')).body).toMatchObject({ reason: 'approval_required', action: 'train' });
    expect((await check('bob', 'churn')).body).toMatchObject({ reason: 'approval_required', subject: 'jwt:corp:bob' });
  });

  it('an mTLS approver approves through the CLI; revoke ends the grant', async () => {
    const bobs = (await check('bob', 'churn')).body!.approval_id as string;
    const tls = ['--url', base, '--ca', pki.ca.certFile];
    const listed = await runCli(['approvals', 'list', ...tls, '--cert', approverCert.certFile, '--key', approverCert.keyFile]);
    expect(listed.stdout).toContain(bobs);
    const approved = await runCli(['approvals', 'approve', bobs, '--for', '1h', ...tls, '--cert', approverCert.certFile, '--key', approverCert.keyFile, '--json']);
    expect(approved.code).toBe(0);
    const grant = (JSON.parse(approved.stdout) as { grant: { id: string; approver: string } }).grant;
    expect(grant.approver).toBe('mtls:sec-lead');
    expect((await check('bob', 'churn')).res.status.code).toBe(0);

    const grants = await runCli(['approvals', 'grants', ...tls, '--token', tokens.max!]);
    expect(grants.stdout).toContain(grant.id);
    const byBob = await runCli(['approvals', 'revoke', 'grt_AAAAAAAAAAAAAAAAAAAAAA', ...tls, '--token', tokens.bob!]);
    expect(byBob).toMatchObject({ code: 1 });
    expect(byBob.stderr).toContain('not_found');
    const revoked = await runCli(['approvals', 'revoke', grant.id, ...tls, '--token', tokens.max!]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${grant.id}`);
    expect((await check('bob', 'churn')).body).toMatchObject({ reason: 'approval_required' });
  });

  it('deny closes the request; the next call opens a new one', async () => {
    const first = (await check('bob', 'fraud')).body!.approval_id as string;
    const denied = await runCli(['approvals', 'deny', first, '--url', base, '--ca', pki.ca.certFile, '--token', tokens.max!]);
    expect(denied.code).toBe(0);
    const again = (await check('bob', 'fraud')).body!.approval_id as string;
    expect(again).not.toBe(first);
  });

  it('an expired grant is refused and a new request opened', async () => {
    const id = (await check('ann', 'fraud')).body!.approval_id as string;
    const approved = await call('POST', `/v1/approvals/${id}/approve`, jwt('max'), '{"for":"1m"}');
    expect(approved.status).toBe(200);
    expect((await check('ann', 'fraud')).res.status.code).toBe(0);
    clock += 61_000;
    const after = await check('ann', 'fraud');
    expect(after.body).toMatchObject({ reason: 'approval_required' });
    expect(after.body!.approval_id).not.toBe(id);
    const line = t.logs.find((l) => l.msg === 'decision' && l.request_id === after.meta.request_id);
    expect(line?.detail).toContain(`grant ${approved.body.grant.id} expired`);
  });

  it('the audit store holds every step and still verifies', async () => {
    await t.close();
    const report = await verifyStore(join(dir, 'store'));
    expect(report).toMatchObject({ ok: true, issues: [] });
    const records = readdirSync(join(dir, 'store'))
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(dir, 'store', f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>))
      .filter((e) => e.type === 'record' && e.record.source.kind === 'modelgate_approvals')
      .map((e) => e.record);
    const events = new Set(records.map((r) => r.approval.event));
    expect([...events].sort()).toEqual(['approval_denied', 'approval_granted', 'approval_requested', 'grant_expired_refused', 'grant_revoked', 'grant_used']);
    const granted = records.find((r) => r.approval.event === 'approval_granted' && r.approval.approver === 'mtls:sec-lead');
    expect(granted).toMatchObject({ subject: 'jwt:corp:bob', model: 'churn', action: 'predict', rule_id: 'gated', decision: 'none' });
    const cli = await runCli(['audit', 'verify', join(dir, 'store')]);
    expect(cli.code).toBe(0);
  });
});
