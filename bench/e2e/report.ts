// The end-to-end bench's Markdown (throughput, latency and added latency per row, targets) from
// the measured rows. The SVG is in chart.ts.

import type { LoadResult } from './load.js';
import type { Checked } from './verify.js';

export interface RowResult {
  readonly id: string;
  readonly label: string;
  /** The median round of the closed-loop maximum. */
  readonly max: LoadResult & { cpuUs: Record<string, number> };
  /** req/s of every round, in the order run. */
  readonly maxRounds: readonly number[];
  /** One per offered rate, in the order of the run's rates. */
  readonly points: ReadonlyArray<LoadResult>;
  readonly checked: Checked;
}

export const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '–');
const signed = (us: number) => (Number.isFinite(us) ? `${us >= 0 ? '+' : '−'}${Math.abs(us / 1000).toFixed(2)}` : '–');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

/** Allowed requests answered with a refusal (4xx) under load: wrong decisions. */
export const deniedUnderLoad = (r: LoadResult) => Object.entries(r.statuses).reduce((n, [s, c]) => (s.startsWith('4') ? n + c : n), 0);

/** Requests that got no decision under load (5xx from an ext_authz error or timeout, reset streams): overload, not a decision. */
export const erroredUnderLoad = (r: LoadResult) =>
  r.failed + Object.entries(r.statuses).reduce((n, [s, c]) => (s === '200' || s.startsWith('4') ? n : n + c), 0);

/**
 * A rate the row could not carry: at least 90% of the row's own closed-loop maximum, or it fell
 * behind by more than 5%. (h2load keeps sending until its stream slots are full, so a row past its
 * limit can still show the offered rate while its queue, and its latency, grow.)
 */
export const saturated = (p: LoadResult, rowMax: number) => p.offered! >= 0.9 * rowMax || p.achieved < 0.95 * p.offered!;

export function throughputTable(rows: readonly RowResult[]): string {
  const base = rows[0]!.max.achieved;
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.max.cpuUs)))];
  const out = [
    `| row | max req/s (median; rounds) | × (a) | CPU µs/request: ${names.join(' / ')} / h2load | answers checked |`,
    '|---|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const cpu = [...names.map((n) => (n in r.max.cpuUs ? r.max.cpuUs[n]!.toFixed(0) : '·')), r.max.generatorCpuUs.toFixed(0)].join(' / ');
    const runs = [r.max, ...r.points];
    const denied = runs.reduce((n, x) => n + deniedUnderLoad(x), 0);
    const errored = runs.reduce((n, x) => n + erroredUnderLoad(x), 0);
    const total = runs.reduce((n, x) => n + x.completed, 0);
    const load = denied ? `**${denied} of ${int(total)} allowed requests refused under load**` : `${int(total)} under load all 200`;
    const checked = `${r.checked.checked - r.checked.wrong.length}/${r.checked.checked} probes right${r.checked.wrong.length ? ` (**${r.checked.wrong[0]}**)` : ''}; ${load}${errored ? `; ${errored} errors (overload)` : ''}`;
    out.push(`| (${r.id}) ${r.label} | ${int(r.max.achieved)} (${r.maxRounds.map(int).join(', ')}) | ${(r.max.achieved / base).toFixed(2)} | ${cpu} | ${checked} |`);
  }
  return out.join('\n');
}

export function latencyTable(rows: readonly RowResult[], rates: readonly { fraction: number; rate: number }[]): string {
  const base = rows[0]!;
  const out = [
    '| row | offered (share of (a) max) | achieved/s | p50 ms | p99 ms | p99.9 ms | added p50 | added p99 | added p99.9 |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  rates.forEach(({ fraction, rate }, i) => {
    for (const r of rows) {
      const p = r.points[i]!;
      const b = base.points[i]!;
      const added = r === base ? ['', '', ''] : [signed(p.p50 - b.p50), signed(p.p99 - b.p99), signed(p.p999 - b.p999)];
      const achieved = `${int(p.achieved)}${saturated(p, r.max.achieved) ? ' **(saturated)**' : ''}`;
      out.push(`| (${r.id}) ${r.label} | ${int(rate)}/s (${(fraction * 100).toFixed(0)}%) | ${achieved} | ${ms(p.p50)} | ${ms(p.p99)} | ${ms(p.p999)} | ${added.join(' | ')} |`);
    }
  });
  return out.join('\n');
}

export interface Target {
  readonly met: boolean;
  readonly text: string;
}

/** The issue's targets, judged on this run's figures only. */
export function targets(rows: readonly RowResult[], half: number): Target[] {
  const get = (id: string) => rows.find((r) => r.id === id);
  const [a, b, c, e] = [get('a')!, get('b'), get('c'), get('e')];
  const out: Target[] = [];
  if (b) {
    const p = b.points[half]!;
    const base = a.points[half]!;
    const sat = saturated(p, b.max.achieved) ? ` (saturated: modelgate's own maximum through Envoy is ${int(b.max.achieved)}/s)` : '';
    out.push({ met: p.p50 - base.p50 <= 300 && !sat, text: `modelgate adds ≤ 0.3 ms at p50 at 50% of Envoy's max (${int(p.offered!)}/s): adds ${signed(p.p50 - base.p50)} ms${sat}` });
    out.push({ met: p.p99 - base.p99 <= 1000 && !sat, text: `modelgate adds ≤ 1 ms at p99 at 50% of Envoy's max: adds ${signed(p.p99 - base.p99)} ms${sat}` });
  }
  if (b && e) out.push({ met: b.max.achieved >= e.max.achieved, text: `modelgate's max throughput ≥ OPA-Envoy's: ${int(b.max.achieved)} vs ${int(e.max.achieved)} req/s (${((b.max.achieved / e.max.achieved) * 100).toFixed(0)}%)` });
  if (b && c) out.push({ met: c.max.achieved >= 0.8 * b.max.achieved, text: `modelgate with Redis ≥ 80% of in-memory: ${int(c.max.achieved)} vs ${int(b.max.achieved)} req/s (${((c.max.achieved / b.max.achieved) * 100).toFixed(0)}%)` });
  const wrong = rows.filter((r) => r.checked.wrong.length > 0 || [r.max, ...r.points].some((x) => deniedUnderLoad(x) > 0));
  out.push({ met: wrong.length === 0, text: `every decision as expected (allow and deny probes before and after each row; no allowed request refused under load)${wrong.length ? `; not in: ${wrong.map((r) => `(${r.id})`).join(', ')}` : ''}` });
  return out;
}

/**
 * Not a target: modelgate's own share, row (b) − row (d) (the no-op behind the same ext_authz), at
 * every rate both rows carried. What is left once the ext_authz round trip itself is taken out.
 */
export function shareOverNoop(rows: readonly RowResult[]): string[] {
  const [b, d] = [rows.find((r) => r.id === 'b'), rows.find((r) => r.id === 'd')];
  if (!b || !d) return [];
  return b.points.flatMap((p, i) => {
    const q = d.points[i]!;
    if (saturated(p, b.max.achieved) || saturated(q, d.max.achieved)) return [];
    return [`at ${int(p.offered!)}/s: p50 ${signed(p.p50 - q.p50)} ms, p99 ${signed(p.p99 - q.p99)} ms, p99.9 ${signed(p.p999 - q.p999)} ms`];
  });
}
