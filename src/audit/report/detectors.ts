// Pure anomaly detectors over audit records: stolen-key bursts, probing, model sweeps, odd hours, new peers.

import type { ReportThresholds } from '../config.js';
import { actorOf, peerOf, type AuditRecord } from '../record.js';
import { baselineStart, windowStart, type Anomaly, type ReportWindow } from './anomaly.js';

export type Thresholds = Omit<ReportThresholds, 'baseline' | 'correlation_grace'>;

interface Split {
  readonly window: AuditRecord[];
  readonly baseline: AuditRecord[];
}

const timeOf = (r: AuditRecord): number => Date.parse(r.time);
const iso = (ms: number): string => new Date(ms).toISOString();
export const isDenied = (r: AuditRecord): boolean => r.decision === 'deny' || r.response_flags.includes('UAEX');

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function split(records: readonly AuditRecord[], w: ReportWindow): Map<string, Split> {
  const from = baselineStart(w);
  const mid = windowStart(w);
  const byActor = new Map<string, Split>();
  for (const r of records) {
    const t = timeOf(r);
    if (t < from || t > w.now) continue;
    const actor = actorOf(r);
    let s = byActor.get(actor);
    if (!s) byActor.set(actor, (s = { window: [], baseline: [] }));
    (t < mid ? s.baseline : s.window).push(r);
  }
  return byActor;
}

/** A bucket far above the actor's typical busy bucket in the baseline (zero buckets ignored: nights are not the norm). */
export function detectVolumeSpikes(records: readonly AuditRecord[], w: ReportWindow, t: Thresholds): Anomaly[] {
  const out: Anomaly[] = [];
  for (const [actor, s] of split(records, w)) {
    const base = [...groupBy(s.baseline, (r) => String(Math.floor(timeOf(r) / t.bucket))).values()].map((b) => b.length);
    const typical = base.length > 0 ? base.reduce((a, b) => a + b, 0) / base.length : 0;
    const limit = t.volume_factor * Math.max(typical, 1);
    for (const [bucket, rs] of groupBy(s.window, (r) => String(Math.floor(timeOf(r) / t.bucket)))) {
      if (rs.length < t.volume_min_requests || rs.length <= limit) continue;
      out.push({
        kind: 'volume_spike',
        actor,
        at: iso(Number(bucket) * t.bucket),
        summary: `${rs.length} requests in one ${t.bucket / 60_000}m bucket, typical busy bucket ${typical.toFixed(1)}`,
        evidence: { requests: rs.length, typical: Math.round(typical * 10) / 10, factor: Math.round((rs.length / Math.max(typical, 1)) * 10) / 10 },
      });
    }
  }
  return out;
}

/** Many requests, mostly refused: someone trying keys, roles or models to see what works. */
export function detectDenialShare(records: readonly AuditRecord[], w: ReportWindow, t: Thresholds): Anomaly[] {
  const out: Anomaly[] = [];
  for (const [actor, s] of split(records, w)) {
    const denied = s.window.filter(isDenied);
    if (s.window.length < t.denial_min_requests || denied.length / s.window.length < t.denial_share) continue;
    const reasons = [...new Set(denied.map((r) => r.reason || r.response_flags.join(',')))].slice(0, 10);
    out.push({
      kind: 'denial_share',
      actor,
      at: denied[0]!.time,
      summary: `${denied.length} of ${s.window.length} requests denied (${Math.round((100 * denied.length) / s.window.length)}%)`,
      evidence: { requests: s.window.length, denied: denied.length, reasons },
    });
  }
  return out;
}

/** One caller touching many models, most of them new to it: reconnaissance. */
export function detectModelSweep(records: readonly AuditRecord[], w: ReportWindow, t: Thresholds): Anomaly[] {
  const out: Anomaly[] = [];
  for (const [actor, s] of split(records, w)) {
    const models = [...new Set(s.window.map((r) => r.model).filter((m) => m !== ''))];
    if (models.length < t.sweep_min_models) continue;
    const known = new Set(s.baseline.map((r) => r.model));
    const fresh = models.filter((m) => !known.has(m));
    if (fresh.length * 2 < models.length) continue;
    out.push({
      kind: 'model_sweep',
      actor,
      at: s.window.find((r) => fresh.includes(r.model))!.time,
      summary: `${models.length} distinct models, ${fresh.length} never used before`,
      evidence: { models: models.length, new_models: fresh.sort().slice(0, 20) },
    });
  }
  return out;
}

/** Requests at hours of the day (UTC) where the actor's baseline shows (almost) no activity. */
export function detectOffHours(records: readonly AuditRecord[], w: ReportWindow, t: Thresholds): Anomaly[] {
  const out: Anomaly[] = [];
  const hour = (r: AuditRecord): number => new Date(timeOf(r)).getUTCHours();
  for (const [actor, s] of split(records, w)) {
    if (s.baseline.length < t.off_hours_min_baseline) continue;
    const perHour = new Array<number>(24).fill(0);
    for (const r of s.baseline) perHour[hour(r)]! += 1;
    const usual = (h: number): boolean => perHour[h]! >= Math.max(1, 0.01 * s.baseline.length);
    const odd = s.window.filter((r) => !usual(hour(r)));
    if (odd.length < t.off_hours_min_requests) continue;
    const hours = [...new Set(odd.map(hour))].sort((a, b) => a - b);
    out.push({
      kind: 'off_hours',
      actor,
      at: odd[0]!.time,
      summary: `${odd.length} requests at unusual hours (UTC ${hours.map((h) => `${h}h`).join(', ')})`,
      evidence: { requests: odd.length, hours_utc: hours.map(String), usual_hours_utc: perHour.flatMap((_, h) => (usual(h) ? [String(h)] : [])) },
    });
  }
  return out;
}

/** A subject with an established set of peers showing up from one it never used. */
export function detectNewPeers(records: readonly AuditRecord[], w: ReportWindow, t: Thresholds): Anomaly[] {
  const out: Anomaly[] = [];
  for (const [actor, s] of split(records, w)) {
    if (!s.window[0] || s.window[0].subject === '' || s.baseline.length < t.new_peer_min_baseline) continue;
    const known = new Set(s.baseline.map(peerOf));
    const fresh = groupBy(s.window.filter((r) => peerOf(r) !== '' && !known.has(peerOf(r))), peerOf);
    for (const [peer, rs] of fresh) {
      out.push({
        kind: 'new_peer',
        actor,
        at: rs[0]!.time,
        summary: `used from a new peer ${peer.length > 40 ? `${peer.slice(0, 40)}…` : peer} (${rs.length} requests)`,
        evidence: { peer, requests: rs.length, known_peers: known.size },
      });
    }
  }
  return out;
}

export function detectAll(records: readonly AuditRecord[], w: ReportWindow, t: Thresholds): Anomaly[] {
  return [
    ...detectVolumeSpikes(records, w, t),
    ...detectDenialShare(records, w, t),
    ...detectModelSweep(records, w, t),
    ...detectOffHours(records, w, t),
    ...detectNewPeers(records, w, t),
  ].sort((a, b) => a.at.localeCompare(b.at) || a.kind.localeCompare(b.kind));
}
