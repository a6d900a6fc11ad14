// What the report flags: one shape for every detector so text and JSON output treat them alike.

export type AnomalyKind =
  | 'volume_spike'
  | 'denial_share'
  | 'model_sweep'
  | 'off_hours'
  | 'new_peer'
  | 'allowed_not_logged'
  | 'logged_without_decision';

export interface Anomaly {
  readonly kind: AnomalyKind;
  /** The subject, or `peer:`/`addr:` for unauthenticated traffic. */
  readonly actor: string;
  /** Start of the evidence (RFC 3339). */
  readonly at: string;
  readonly summary: string;
  readonly evidence: Readonly<Record<string, number | string | readonly string[]>>;
}

/** The report's time frame: `window` is what is judged, `baseline` the history just before it. */
export interface ReportWindow {
  readonly now: number;
  readonly sinceMs: number;
  readonly baselineMs: number;
}

export function windowStart(w: ReportWindow): number {
  return w.now - w.sinceMs;
}

export function baselineStart(w: ReportWindow): number {
  return w.now - w.sinceMs - w.baselineMs;
}
