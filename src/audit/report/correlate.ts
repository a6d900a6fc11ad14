// Joins Envoy's records with modelgate's decision log by request id: allowed-but-never-arrived, and arrived-without-a-decision.

import { actorOf, type AuditRecord } from '../record.js';
import { windowStart, type Anomaly, type ReportWindow } from './anomaly.js';

export interface DecisionLogEntry {
  readonly time: number;
  readonly request_id: string;
  readonly decision_id: string;
  readonly decision: string;
  readonly reason: string;
  readonly subject: string;
  readonly model: string;
  readonly action: string;
}

/** Pino JSON lines; lines without a request id and a decision are other log messages and skipped. */
export function parseDecisionLog(text: string): DecisionLogEntry[] {
  const out: DecisionLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof e.request_id !== 'string' || typeof e.decision !== 'string' || e.request_id === '') continue;
    const time = typeof e.time === 'number' ? e.time : Date.parse(String(e.time));
    if (!Number.isFinite(time)) continue;
    const s = (k: string): string => (typeof e[k] === 'string' ? (e[k] as string) : '');
    out.push({ time, request_id: e.request_id, decision: e.decision, decision_id: s('decision_id'), reason: s('reason'), subject: s('subject'), model: s('model'), action: s('action') });
  }
  return out;
}

const SAMPLE = 20;

function grouped(kind: Anomaly['kind'], items: { actor: string; time: number; request_id: string }[], summary: (n: number) => string): Anomaly[] {
  const byActor = new Map<string, typeof items>();
  for (const item of items) byActor.set(item.actor, [...(byActor.get(item.actor) ?? []), item]);
  return [...byActor].map(([actor, list]) => ({
    kind,
    actor,
    at: new Date(Math.min(...list.map((i) => i.time))).toISOString(),
    summary: summary(list.length),
    evidence: { requests: list.length, request_ids: list.slice(0, SAMPLE).map((i) => i.request_id) },
  }));
}

/**
 * `graceMs` keeps fresh decisions out: Envoy writes its log after the response, so a just-allowed
 * request is not missing yet. Envoy entries are only judged inside the decision log's time span.
 */
export function correlate(records: readonly AuditRecord[], decisions: readonly DecisionLogEntry[], w: ReportWindow, graceMs: number): Anomaly[] {
  const from = windowStart(w);
  const seen = new Set(records.map((r) => r.request_id).filter((id) => id !== ''));
  const decided = new Set(decisions.map((d) => d.request_id));
  const missing = decisions
    .filter((d) => d.decision === 'allow' && d.time >= from && d.time <= w.now - graceMs && !seen.has(d.request_id))
    .map((d) => ({ actor: d.subject || 'anonymous', time: d.time, request_id: d.request_id }));
  const span = decisions.length > 0 ? { lo: Math.min(...decisions.map((d) => d.time)), hi: Math.max(...decisions.map((d) => d.time)) } : undefined;
  const orphans = span
    ? records
        .filter((r) => {
          const t = Date.parse(r.time);
          return t >= Math.max(from, span.lo) && t <= span.hi && !decided.has(r.request_id);
        })
        .map((r) => ({ actor: actorOf(r), time: Date.parse(r.time), request_id: r.request_id }))
    : [];
  return [
    ...grouped('allowed_not_logged', missing, (n) => `${n} request(s) allowed by modelgate never reached Envoy's access log`),
    ...grouped('logged_without_decision', orphans, (n) => `${n} request(s) in Envoy's log have no modelgate decision (ext_authz bypassed?)`),
  ];
}
