// Assembles the report: loads the store's records for the window and baseline, runs detectors and correlation.

import { readFile } from 'node:fs/promises';
import type { ReportThresholds } from '../config.js';
import type { AuditRecord } from '../record.js';
import { readRecords } from '../store-scan.js';
import { baselineStart, windowStart, type Anomaly, type ReportWindow } from './anomaly.js';
import { correlate, parseDecisionLog } from './correlate.js';
import { denialsByReason, type DenialReason } from './denials.js';
import { detectAll } from './detectors.js';
import { timeline, type Timeline } from './timeline.js';
import { modelUsage, subjectUsage, type ModelUsage, type SubjectUsage } from './usage.js';

export interface Report {
  readonly window: { readonly from: string; readonly to: string; readonly baseline_from: string };
  readonly records: number;
  readonly anomalies: Anomaly[];
  readonly subjects: SubjectUsage[];
  readonly models: ModelUsage[];
  readonly denials: DenialReason[];
  readonly timeline: Timeline;
  readonly correlated: boolean;
}

export function buildReport(records: readonly AuditRecord[], w: ReportWindow, t: ReportThresholds, decisionLog?: string): Report {
  const from = windowStart(w);
  const inWindow = records.filter((r) => {
    const ms = Date.parse(r.time);
    return ms >= from && ms <= w.now;
  });
  const anomalies = detectAll(records, w, t);
  if (decisionLog !== undefined) anomalies.push(...correlate(records, parseDecisionLog(decisionLog), w, t.correlation_grace));
  return {
    window: { from: new Date(from).toISOString(), to: new Date(w.now).toISOString(), baseline_from: new Date(baselineStart(w)).toISOString() },
    records: inWindow.length,
    anomalies,
    subjects: subjectUsage(inWindow),
    models: modelUsage(inWindow),
    denials: denialsByReason(inWindow),
    timeline: timeline(inWindow, from, w.now),
    correlated: decisionLog !== undefined,
  };
}

/** Reads what the report needs from a store directory (records from the baseline start on). */
export async function reportFromStore(dir: string, w: ReportWindow, t: ReportThresholds, decisionLogFile?: string): Promise<Report> {
  const from = baselineStart(w);
  const records: AuditRecord[] = [];
  for await (const r of readRecords(dir)) if (Date.parse(r.time) >= from) records.push(r);
  const log = decisionLogFile ? await readFile(decisionLogFile, 'utf8') : undefined;
  return buildReport(records, w, t, log);
}
