// Detectors are pure: generated habits raise nothing, each planted incident raises its own kind.

import { describe, expect, it } from 'vitest';
import { defaultAuditConfig } from '../../../src/audit/config.js';
import { correlate } from '../../../src/audit/report/correlate.js';
import { detectAll, detectNewPeers } from '../../../src/audit/report/detectors.js';
import { byTime, DAY, HOUR, makeRecord, modelSweep, normalTraffic, NOW, prober, stolenKeyBurst } from '../../helpers/audit/traffic.js';

const thresholds = defaultAuditConfig().report;
const w = { now: NOW, sinceMs: DAY, baselineMs: 7 * DAY };

describe('anomaly detectors', () => {
  it('raise nothing on eight days of ordinary traffic', () => {
    expect(detectAll(normalTraffic(), w, thresholds)).toEqual([]);
    expect(detectAll(normalTraffic(99), w, thresholds)).toEqual([]);
  });

  it('find a stolen-key burst, a prober and a model sweep', () => {
    const records = [...normalTraffic(), ...stolenKeyBurst(), ...prober(), ...modelSweep()].sort(byTime);
    const found = detectAll(records, w, thresholds).map((a) => `${a.kind} ${a.actor}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'volume_spike svc:billing',
        'off_hours svc:billing',
        'new_peer svc:billing',
        'denial_share addr:hmac-sha256:prober',
        'model_sweep svc:research',
      ]),
    );
    expect(found.filter((f) => /chatbot|alice|bob/.test(f))).toEqual([]);
  });

  it('use the injected clock: the same burst is history once the window has moved on', () => {
    const records = [...normalTraffic(), ...stolenKeyBurst()];
    const later = { ...w, now: NOW + 3 * DAY };
    expect(detectAll(records, later, thresholds).filter((a) => a.kind === 'volume_spike')).toEqual([]);
  });

  it('respect configured thresholds', () => {
    const records = [...normalTraffic(), ...modelSweep()];
    expect(detectAll(records, w, { ...thresholds, sweep_min_models: 50 }).some((a) => a.kind === 'model_sweep')).toBe(false);
    const peerOnly = detectNewPeers(records, w, { ...thresholds, new_peer_min_baseline: 1_000_000 });
    expect(peerOnly).toEqual([]);
  });
});

describe('correlate', () => {
  const t0 = NOW - 2 * HOUR;
  const envoy = [makeRecord({ time: new Date(t0).toISOString(), request_id: 'a', subject: 's' }), makeRecord({ time: new Date(t0 + 1000).toISOString(), request_id: 'orphan', subject: 's' })];
  const decisions = [
    { time: t0, request_id: 'a', decision_id: 'd1', decision: 'allow', reason: 'allowed', subject: 's', model: 'm', action: 'x' },
    { time: t0 + 2000, request_id: 'lost', decision_id: 'd2', decision: 'allow', reason: 'allowed', subject: 's', model: 'm', action: 'x' },
    { time: t0 + 3000, request_id: 'denied-never-logged', decision_id: 'd3', decision: 'deny', reason: 'no_credential', subject: '', model: 'm', action: 'x' },
    { time: NOW - 1000, request_id: 'too-fresh', decision_id: 'd4', decision: 'allow', reason: 'allowed', subject: 's', model: 'm', action: 'x' },
  ];

  it('flags allowed-but-missing and logged-without-decision, ignoring denials and fresh decisions', () => {
    const out = correlate(envoy, decisions, w, 60_000);
    expect(out.map((a) => [a.kind, a.evidence.request_ids])).toEqual([
      ['allowed_not_logged', ['lost']],
      ['logged_without_decision', ['orphan']],
    ]);
  });
});
