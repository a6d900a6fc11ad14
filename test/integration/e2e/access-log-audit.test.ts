// Proves envoy/edge.yaml's two access logs carry modelgate's decisions: the JSON file log (metadata, UAEX, the decision log's request id) and the http_grpc stream into modelgate's audit store (its own receiver port, over mTLS with Envoy's dev client certificate), which `modelgate audit verify` and `report` accept.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../src/audit/record.js';
import { normalizeFileLine } from '../../../src/audit/normalize-file.js';
import { readRecords } from '../../../src/audit/store-scan.js';
import { ENVOY_BIN } from '../../helpers/envoy.js';
import { devCerts, startStack, withCheckTls, type DevCert, type Stack } from '../../helpers/envoy-stack.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { runCli } from '../../helpers/audit/cli.js';
import { TEST_HASH_KEY, testPrivacy } from '../../helpers/audit/fixtures.js';
import { BATCH_SCORER, e2eFixture, FRONTEND, gateYaml } from '../../helpers/e2e/fixture.js';

/** The URI SAN of dev-certs.sh's envoy-client.crt: the one sender compose's receiver allows. */
const ENVOY_SENDER = 'spiffe://modelgate.local/ns/edge/sa/envoy';

interface Sent {
  readonly cert: DevCert;
  readonly status: number;
  readonly requestId: string;
}

/** Records in the store so far (the open segment included). */
async function records(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of readRecords(dir)) out.push(r);
  return out;
}

describe.skipIf(!ENVOY_BIN)("Envoy's access logs and modelgate's audit trail (envoy/edge.yaml)", () => {
  let root: string;
  let certs: string;
  let storeDir: string;
  let gate: TestGate;
  let stack: Stack;
  let gateOpen = false;
  const sent: Sent[] = [];
  const decisionsFor = (requestId: string) => gate.logs.filter((l) => l.msg === 'decision' && l.request_id === requestId);
  const logLine = (requestId: string) => stack.accessLogLine((l) => l.request_id === requestId);

  beforeAll(async () => {
    const fx = await e2eFixture();
    root = mkdtempSync(path.join(tmpdir(), 'modelgate-e2e-audit-'));
    storeDir = path.join(root, 'store');
    // The checkpoint signing key, made the operator's way.
    const key = { private: path.join(root, 'audit.key'), public: path.join(root, 'audit.pub') };
    const keygen = await runCli(['audit', 'keygen', '--private-key', key.private, '--public-key', key.public]);
    expect(keygen.code, keygen.stderr).toBe(0);
    const hashKeyFile = path.join(root, 'hash.key');
    writeFileSync(hashKeyFile, TEST_HASH_KEY);
    // The receiver as compose runs it: mTLS with the dev certificates, only Envoy's identity allowed.
    certs = devCerts();
    const cert = (name: string) => JSON.stringify(path.join(certs, name));
    const yaml = gateYaml({
      extra: `audit:
  store: { dir: ${JSON.stringify(storeDir)}, signing_key_file: ${JSON.stringify(key.private)}, batch_max_delay: 50ms }
  privacy: { hash_key_file: ${JSON.stringify(hashKeyFile)} }
  receiver:
    listen: 127.0.0.1:0
    tls: { cert_file: ${cert('modelgate-server.crt')}, key_file: ${cert('modelgate-server.key')}, client_ca_file: ${cert('proxy-ca.crt')}, allowed_sans: [${ENVOY_SENDER}] }`,
    });
    // The test owns the gate so it can close it (sealing the store) before the stack is torn down.
    gate = await startTestGate(withCheckTls(yaml, certs), { files: fx.files, env: fx.env });
    gateOpen = true;
    stack = await startStack({ gateYaml: yaml, gatePort: gate.gate.grpcPort, auditPort: gate.gate.auditPort, certs });

    const send = async (cert: DevCert, target: string, o: { method?: string; token?: string } = {}) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) };
      const before = stack.upstream.received.length;
      const r = await stack.call(cert, target, { method: o.method ?? 'POST', headers, body: o.method === 'GET' ? undefined : '{"features":[1]}' });
      // Allowed: the id the upstream got from Envoy; denied: the id in modelgate's body.
      const requestId = r.status === 200 ? (stack.upstream.received[before]!.headers['x-request-id'] as string) : (JSON.parse(r.body) as { request_id: string }).request_id;
      sent.push({ cert, status: r.status, requestId });
    };
    await send('batch-scorer', '/v1/models/fraud-detector:predict');
    await send('batch-scorer', '/v1/models/churn:predict');
    await send('batch-scorer', '/v1/models/fraud-detector', { method: 'GET' });
    await send('frontend', '/v1/models/churn:predict', { token: await fx.token('alice', ['analyst']) });
    await send('frontend', '/v1/models/fraud-detector:predict');
    await send('frontend', '/v1/models/churn:predict');
    await send('batch-scorer', '/v1/models/fraud-detector:predict', { token: await fx.token('alice', ['analyst'], { expiresIn: -600 }) });
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200, 200, 403, 403, 401]);
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
    if (gateOpen) await gate.close();
    if (root) rmSync(root, { recursive: true, force: true });
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  it("the JSON file log carries modelgate's metadata for every allowed request", async () => {
    const expected = [
      { subject: `mtls:${BATCH_SCORER}`, auth_method: 'mtls', model: 'fraud-detector', action: 'predict' },
      { subject: `mtls:${BATCH_SCORER}`, auth_method: 'mtls', model: 'churn', action: 'predict' },
      { subject: `mtls:${BATCH_SCORER}`, auth_method: 'mtls', model: 'fraud-detector', action: 'read' },
      { subject: 'jwt:test:alice', auth_method: 'jwt', model: 'churn', action: 'predict' },
    ];
    for (const [i, s] of sent.slice(0, 4).entries()) {
      const line = await logLine(s.requestId);
      expect(line).toMatchObject({ response_code: 200, response_flags: '-', response_code_details: 'via_upstream' });
      expect(line.ext_authz).toMatchObject({
        ...expected[i],
        request_id: s.requestId,
        decision: 'allow',
        reason: 'allowed',
        rule_id: 'analysts-predict',
        roles: 'analyst',
        tenant: 'ml-platform',
      });
      expect(typeof (line.ext_authz as Record<string, unknown>).ext_authz_duration).toBe('number');
    }
  });

  it('the JSON file log marks every denial UAEX / ext_authz_denied with the reason, and no rule or subject it did not have', async () => {
    for (const s of sent.slice(4, 6)) {
      const line = await logLine(s.requestId);
      expect(line).toMatchObject({ response_code: 403, response_flags: 'UAEX', response_code_details: 'ext_authz_denied' });
      expect(line.ext_authz).toMatchObject({ subject: `mtls:${FRONTEND}`, auth_method: 'mtls', decision: 'deny', reason: 'no_matching_rule', request_id: s.requestId });
      expect(line.ext_authz).not.toHaveProperty('rule_id');
    }
    const expired = await logLine(sent[6]!.requestId);
    expect(expired).toMatchObject({ response_code: 401, response_flags: 'UAEX', response_code_details: 'ext_authz_denied', downstream_peer_uri_san: BATCH_SCORER });
    expect(expired.ext_authz).toMatchObject({ decision: 'deny', reason: 'token_expired', request_id: sent[6]!.requestId });
    expect(expired.ext_authz).not.toHaveProperty('subject');
  });

  it("the decision log and Envoy's log share the request id (and the decision id) for every request", async () => {
    for (const s of sent) {
      const line = await logLine(s.requestId);
      const decisions = decisionsFor(s.requestId);
      expect(decisions, s.requestId).toHaveLength(1);
      const ext = line.ext_authz as Record<string, unknown>;
      expect(decisions[0]).toMatchObject({ decision_id: ext.decision_id, decision: ext.decision, reason: ext.reason, status: s.status });
    }
    expect(new Set(sent.map((s) => s.requestId)).size).toBe(sent.length);
  });

  it("the http_grpc logger streams every request into modelgate's store; after a clean stop `audit verify` passes and `audit report` names the subjects and denials", async () => {
    // Envoy flushes its gRPC log buffer each second; the store fsyncs a batch within 50 ms.
    let stored: AuditRecord[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && stored.length < sent.length; await new Promise((r) => setTimeout(r, 200))) {
      stored = await records(storeDir);
    }
    expect(stored.map((r) => r.request_id).sort()).toEqual(sent.map((s) => s.requestId).sort());
    for (const s of sent) {
      const r = stored.find((x) => x.request_id === s.requestId)!;
      // The node id is Envoy's own claim; the sender is the certificate identity modelgate verified.
      expect(r.source).toMatchObject({ kind: 'envoy_als', id: expect.stringMatching(/\/modelgate-edge$/), sender: ENVOY_SENDER });
      expect(r.response_code).toBe(s.status);
      expect(r.response_flags).toEqual(s.status === 200 ? [] : ['UAEX']);
      expect(r.response_code_details).toBe(s.status === 200 ? 'via_upstream' : 'ext_authz_denied');
      expect(r.decision).toBe(s.status === 200 ? 'allow' : 'deny');
      expect(r.peer.principal).toBe(s.cert === 'batch-scorer' ? BATCH_SCORER : FRONTEND);
      expect(r.peer.address).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      // The gRPC entry and the file line describe one request: both receivers must read them alike.
      const fromFile = normalizeFileLine(JSON.stringify(await logLine(s.requestId)), { kind: 'envoy_file', id: 'access.log' }, testPrivacy());
      if (!fromFile.ok) throw new Error(fromFile.error);
      expect({ ...r, source: undefined, duration_ms: undefined }).toEqual({ ...fromFile.record, source: undefined, duration_ms: undefined });
      expect(Math.abs(r.duration_ms - fromFile.record.duration_ms)).toBeLessThanOrEqual(1);
    }

    // Envoy first (its stream ends), then modelgate, whose close seals the open segment.
    await stack.envoy.stop();
    gateOpen = false;
    await gate.close();
    const decisionLog = path.join(root, 'decisions.log');
    writeFileSync(decisionLog, gate.logs.filter((l) => l.msg === 'decision').map((l) => `${JSON.stringify(l)}\n`).join(''));

    const verify = await runCli(['audit', 'verify', storeDir, '--public-key', path.join(root, 'audit.pub')]);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toBe(`OK: 1 segments, ${sent.length} chained entries, 1 checkpoints; signatures verified\n`);

    // Judged two minutes on, so the correlation grace is over for every allow.
    const now = new Date(Date.now() + 120_000).toISOString();
    const json = await runCli(['audit', 'report', storeDir, '--since', '1h', '--json', '--decision-log', decisionLog, '--now', now]);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { records: number; anomalies: unknown[]; subjects: Array<{ subject: string; requests: number; allowed: number; denied: number }> };
    expect(report.records).toBe(sent.length);
    // Every request Envoy logged had a decision and every allowed decision reached Envoy's log.
    expect(report.anomalies).toEqual([]);
    const usage = Object.fromEntries(report.subjects.map((s) => [s.subject, [s.requests, s.allowed, s.denied]]));
    expect(usage).toEqual({ [`mtls:${BATCH_SCORER}`]: [3, 3, 0], [`mtls:${FRONTEND}`]: [2, 0, 2], 'jwt:test:alice': [1, 1, 0], [`peer:${BATCH_SCORER}`]: [1, 0, 1] });

    const text = await runCli(['audit', 'report', storeDir, '--since', '1h', '--now', now]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Anomalies: none');
    expect(text.stdout).toMatch(new RegExp(`\\nmtls:${FRONTEND}\\s+2\\s+0\\s+2\\s`));
    expect(text.stdout).toMatch(new RegExp(`\\nmtls:${BATCH_SCORER}\\s+3\\s+3\\s+0\\s`));
  }, 60_000);
});
