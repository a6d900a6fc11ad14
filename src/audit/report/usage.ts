// Per-subject and per-model usage tables for the report window.

import { actorOf, type AuditRecord } from '../record.js';
import { isDenied } from './detectors.js';

export interface SubjectUsage {
  readonly subject: string;
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  readonly models: number;
  readonly bytes_received: number;
  readonly bytes_sent: number;
  readonly first: string;
  readonly last: string;
}

export interface ModelUsage {
  readonly model: string;
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  readonly subjects: number;
  readonly bytes_received: number;
  readonly bytes_sent: number;
  readonly mean_duration_ms: number;
}

function tally(records: readonly AuditRecord[]) {
  const denied = records.filter(isDenied).length;
  return {
    requests: records.length,
    denied,
    allowed: records.filter((r) => r.decision === 'allow' && !isDenied(r)).length,
    bytes_received: records.reduce((a, r) => a + r.bytes_received, 0),
    bytes_sent: records.reduce((a, r) => a + r.bytes_sent, 0),
  };
}

function group(records: readonly AuditRecord[], key: (r: AuditRecord) => string): Map<string, AuditRecord[]> {
  const out = new Map<string, AuditRecord[]>();
  for (const r of records) {
    const k = key(r);
    out.set(k, [...(out.get(k) ?? []), r]);
  }
  return out;
}

export function subjectUsage(records: readonly AuditRecord[]): SubjectUsage[] {
  return [...group(records, actorOf)]
    .map(([subject, rs]) => ({
      subject,
      ...tally(rs),
      models: new Set(rs.map((r) => r.model).filter((m) => m !== '')).size,
      first: rs.reduce((a, r) => (r.time < a ? r.time : a), rs[0]!.time),
      last: rs.reduce((a, r) => (r.time > a ? r.time : a), rs[0]!.time),
    }))
    .sort((a, b) => b.requests - a.requests || a.subject.localeCompare(b.subject));
}

export function modelUsage(records: readonly AuditRecord[]): ModelUsage[] {
  return [...group(records, (r) => r.model || '(none)')]
    .map(([model, rs]) => ({
      model,
      ...tally(rs),
      subjects: new Set(rs.map(actorOf)).size,
      mean_duration_ms: Math.round((rs.reduce((a, r) => a + r.duration_ms, 0) / rs.length) * 10) / 10,
    }))
    .sort((a, b) => b.requests - a.requests || a.model.localeCompare(b.model));
}
