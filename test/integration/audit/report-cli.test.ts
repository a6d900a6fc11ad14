// `modelgate audit report` and `keygen` as child processes, over a real store of generated traffic with planted incidents.

import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainStore } from '../../../src/audit/chain-store.js';
import type { AuditRecord } from '../../../src/audit/record.js';
import { runCli } from '../../helpers/audit/cli.js';
import { tempStore, type TempStore } from '../../helpers/audit/fixtures.js';
import { byTime, HOUR, makeRecord, modelSweep, normalTraffic, NOW, prober, stolenKeyBurst } from '../../helpers/audit/traffic.js';

let fx: TempStore;
let calmDir: string;
let incidentDir: string;
let decisionLog: string;

async function fill(dir: string, records: AuditRecord[]): Promise<void> {
  const store = await ChainStore.open({ dir, signingKey: fx.key, batchMaxRecords: 5_000, segmentMaxBytes: 4 * 1024 * 1024 });
  await store.append(records);
  await store.close();
}

beforeAll(async () => {
  fx = await tempStore();
  calmDir = join(fx.root, 'calm');
  incidentDir = join(fx.root, 'incident');
  const normal = normalTraffic(11);
  await fill(calmDir, normal);
  // Two requests modelgate allowed that never showed up at Envoy, one Envoy entry nobody decided.
  const bypass = makeRecord({ time: new Date(NOW - 3 * HOUR).toISOString(), request_id: 'bypass-1', subject: 'svc:chatbot', model: 'llama-3-8b', decision: 'none',
    peer: { principal: 'spiffe://prod/sa/chatbot', uri_sans: ['spiffe://prod/sa/chatbot'], dns_sans: [], certificate_subject: '' } });
  const incident = [...normal, ...stolenKeyBurst(), ...prober(), ...modelSweep(), bypass].sort(byTime);
  await fill(incidentDir, incident);
  const logLines = incident
    .filter((r) => Date.parse(r.time) >= NOW - 30 * HOUR && r.request_id !== 'bypass-1')
    .map((r) => JSON.stringify({ level: 30, time: Date.parse(r.time), msg: 'decision', request_id: r.request_id, decision_id: r.decision_id, decision: r.decision, reason: r.reason, subject: r.subject, model: r.model, action: r.action }));
  for (const id of ['ghost-1', 'ghost-2']) {
    logLines.push(JSON.stringify({ level: 30, time: NOW - 2 * HOUR, msg: 'decision', request_id: id, decision_id: `d-${id}`, decision: 'allow', reason: 'allowed', subject: 'user:alice', model: 'gpt-internal', action: 'generate' }));
  }
  logLines.push('{"level":30,"time":1,"msg":"server started"}');
  decisionLog = join(fx.root, 'decisions.log');
  await writeFile(decisionLog, `${logLines.join('\n')}\n`);
}, 60_000);

afterAll(() => fx.cleanup());

const at = ['--now', new Date(NOW).toISOString()];

describe('modelgate audit report', () => {
  it('reports nothing unusual for ordinary traffic, and prints usage tables', async () => {
    const r = await runCli(['audit', 'report', calmDir, '--since', '24h', ...at]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Anomalies: none');
    expect(r.stdout).toMatch(/Per subject:\nsubject\s+requests\s+allowed\s+denied/);
    expect(r.stdout).toMatch(/\nsvc:chatbot\s+\d+/);
    expect(r.stdout).toMatch(/Per model:\nmodel\s+requests/);
  });

  it('reports the burst, the prober, the sweep and both correlation gaps as JSON', async () => {
    const r = await runCli(['audit', 'report', incidentDir, '--since', '24h', '--json', '--decision-log', decisionLog, ...at]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { anomalies: { kind: string; actor: string; evidence: Record<string, unknown> }[]; subjects: { subject: string }[] };
    const found = report.anomalies.map((a) => `${a.kind} ${a.actor}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'volume_spike svc:billing',
        'new_peer svc:billing',
        'off_hours svc:billing',
        'denial_share addr:hmac-sha256:prober',
        'model_sweep svc:research',
        'allowed_not_logged user:alice',
        'logged_without_decision svc:chatbot',
      ]),
    );
    expect(report.anomalies.find((a) => a.kind === 'allowed_not_logged')!.evidence.request_ids).toEqual(['ghost-1', 'ghost-2']);
    expect(report.anomalies.find((a) => a.kind === 'logged_without_decision')!.evidence.request_ids).toEqual(['bypass-1']);
    expect(found.filter((f) => /alice|bob|chatbot/.test(f) && !/allowed_not_logged|logged_without/.test(f))).toEqual([]);
    expect(report.subjects.map((s) => s.subject)).toContain('svc:billing');
  });

  it('reads thresholds from the config file and rejects a misspelled key with its path', async () => {
    const config = join(fx.root, 'modelgate.yaml');
    await writeFile(config, 'audit:\n  report:\n    sweep_min_models: 40\n    volume_factor: 1000\n');
    const r = await runCli(['audit', 'report', incidentDir, '--json', '--config', config, ...at]);
    const kinds = (JSON.parse(r.stdout) as { anomalies: { kind: string }[] }).anomalies.map((a) => a.kind);
    expect(kinds).not.toContain('model_sweep');
    expect(kinds).not.toContain('volume_spike');
    await writeFile(config, 'audit:\n  report:\n    sweep_min_modles: 40\n');
    const bad = await runCli(['audit', 'report', incidentDir, '--config', config, ...at]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${config}:3: audit.report.sweep_min_modles: unknown field 'sweep_min_modles'`);
  });
});

describe('modelgate audit keygen', () => {
  it('writes an Ed25519 pair with a 0600 private key and refuses to overwrite it', async () => {
    const priv = join(fx.root, 'keys', 'k.pem');
    const pub = join(fx.root, 'keys', 'k.pub');
    const r = await runCli(['audit', 'keygen', '--private-key', priv, '--public-key', pub]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/key id [0-9a-f]{16}/);
    expect((await stat(priv)).mode & 0o777).toBe(0o600);
    const again = await runCli(['audit', 'keygen', '--private-key', priv, '--public-key', pub]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/refusing to overwrite/);
  });
});
