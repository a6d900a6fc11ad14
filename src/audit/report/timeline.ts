// Requests over time per subject and per model, in buckets sized so a window fits one chart.

import { actorOf, type AuditRecord } from '../record.js';

/** Series beyond the busiest ones are summed into one `(other)` series, so the JSON stays bounded however many subjects there are. */
export const TIMELINE_TOP = 8;
export const OTHER_SERIES = '(other)';

const MINUTE = 60_000;
const STEPS = [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10_080].map((m) => m * MINUTE);
const MAX_BUCKETS = 48;

export interface Series {
  readonly name: string;
  readonly total: number;
  /** One count per bucket, oldest first. */
  readonly counts: number[];
}

export interface Timeline {
  /** Start of the first bucket (RFC 3339), aligned to the bucket size. */
  readonly start: string;
  readonly bucket_ms: number;
  readonly buckets: number;
  readonly subjects: Series[];
  readonly models: Series[];
}

/** The smallest whole step that keeps the window within MAX_BUCKETS buckets. */
export function bucketFor(spanMs: number): number {
  return STEPS.find((s) => spanMs / s <= MAX_BUCKETS) ?? Math.ceil(spanMs / MAX_BUCKETS / MINUTE) * MINUTE;
}

function series(records: readonly AuditRecord[], key: (r: AuditRecord) => string, index: (r: AuditRecord) => number, buckets: number): Series[] {
  const byName = new Map<string, number[]>();
  for (const r of records) {
    const name = key(r);
    let counts = byName.get(name);
    if (!counts) byName.set(name, (counts = new Array<number>(buckets).fill(0)));
    counts[index(r)]! += 1;
  }
  const all = [...byName]
    .map(([name, counts]) => ({ name, total: counts.reduce((a, b) => a + b, 0), counts }))
    .sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
  if (all.length <= TIMELINE_TOP + 1) return all;
  const rest = all.slice(TIMELINE_TOP);
  const counts = new Array<number>(buckets).fill(0).map((_, i) => rest.reduce((a, s) => a + s.counts[i]!, 0));
  return [...all.slice(0, TIMELINE_TOP), { name: OTHER_SERIES, total: counts.reduce((a, b) => a + b, 0), counts }];
}

/** `records` are the window's; `from`..`to` the window in ms. */
export function timeline(records: readonly AuditRecord[], from: number, to: number): Timeline {
  const bucket = bucketFor(Math.max(to - from, MINUTE));
  const start = Math.floor(from / bucket) * bucket;
  // A record at exactly `to` belongs to the last bucket (the window includes its end).
  const buckets = Math.max(1, Math.ceil((to - start) / bucket));
  const index = (r: AuditRecord): number => Math.min(buckets - 1, Math.max(0, Math.floor((Date.parse(r.time) - start) / bucket)));
  return {
    start: new Date(start).toISOString(),
    bucket_ms: bucket,
    buckets,
    subjects: series(records, actorOf, index, buckets),
    models: series(records, (r) => r.model || '(none)', index, buckets),
  };
}
