// Turns bench results into the Markdown table and a hand-written SVG chart of latency vs load.

import type { ClosedLoopResult } from './h2load.js';
import type { OpenLoopResult } from './procs.js';

export interface RowResult {
  readonly row: string;
  readonly workers: number;
  readonly closed: ClosedLoopResult[];
  readonly open?: OpenLoopResult;
  /** Decisions checked with a real grpc-js client before and after the row, and how many were wrong. */
  readonly sampled: { checked: number; wrong: string[] };
  readonly maxRps: number;
  /** req/s at the highest closed-loop load over the ceiling's at that load (same workers): the median of the pairing rounds. */
  readonly ratio: number;
  readonly pairedCeilingRps: number;
  /** Row ÷ ceiling for each pairing round; `ratio` is their median. */
  readonly ratios?: readonly number[];
  /** The ceiling under the same open-loop rate, right after the row. */
  readonly ceilingOpen?: OpenLoopResult;
  /** JWT cache lookups during the row (1 worker only: metrics are per process). */
  readonly cache?: { hit: number; miss: number };
}

const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '–');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

export function markdownTable(rows: readonly RowResult[]): string {
  const out = [
    '| row | workers | load | req/s | × ceiling | p50 ms | p90 ms | p99 ms | p99.9 ms | checked |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    for (const c of r.closed) {
      const last = c === r.closed[r.closed.length - 1];
      const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
      const spread = r.ratios && r.ratios.length > 1 ? ` (${pct(Math.min(...r.ratios))}–${pct(Math.max(...r.ratios))}, ${r.ratios.length} rounds)` : ` (of ${int(r.pairedCeilingRps)})`;
      const ratio = last ? `**${pct(r.ratio)}**${r.row === 'ceiling' ? '' : spread}` : '';
      const checked = `${c.ok200} 2xx${c.failed ? `, **${c.failed} failed**` : ''}`;
      out.push(`| ${r.row} | ${r.workers} | closed ${c.connections * c.streams} (${c.connections}×${c.streams}) | ${int(c.rps)} | ${ratio} | ${ms(c.p50)} | ${ms(c.p90)} | ${ms(c.p99)} | ${ms(c.p999)} | ${checked} |`);
    }
    if (r.open) {
      const o = r.open;
      out.push(`| ${r.row} | ${r.workers} | open ${int(o.offered)}/s | ${int(o.achieved)} |  | ${ms(o.p50)} | ${ms(o.p90)} | ${ms(o.p99)} | ${ms(o.p999)} | ${o.correct}/${o.sent} decisions ok${o.wrong + o.errors ? `, ${o.wrong} wrong, ${o.errors} errors` : ''} |`);
    }
    if (r.ceilingOpen) {
      const o = r.ceilingOpen;
      out.push(`| ↳ ceiling, same rate | ${r.workers} | open ${int(o.offered)}/s | ${int(o.achieved)} |  | ${ms(o.p50)} | ${ms(o.p90)} | ${ms(o.p99)} | ${ms(o.p999)} | floor of this VM + generator |`);
    }
    if (r.sampled.wrong.length > 0) out.push(`| ${r.row} | | **sampled decisions wrong: ${r.sampled.wrong.length}/${r.sampled.checked} (${r.sampled.wrong[0]})** | | | | | | | |`);
  }
  return out.join('\n');
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31'];

/** p99 latency (log scale) against achieved throughput; one line per row, open-loop point drawn hollow. */
export function latencyChart(rows: readonly RowResult[]): string {
  const W = 900;
  const H = 520;
  const m = { l: 70, r: 230, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const points = rows.map((r) => [
    ...r.closed.map((c) => ({ x: c.rps, y: c.p99, open: false })),
    ...(r.open ? [{ x: r.open.achieved, y: r.open.p99, open: true }] : []),
  ].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.y > 0));
  const all = points.flat();
  const xMax = Math.max(1, ...all.map((p) => p.x)) * 1.05;
  const yMin = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...all.map((p) => p.y)))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(10, ...all.map((p) => p.y))));
  const sx = (x: number) => m.l + (x / xMax) * pw;
  const sy = (y: number) => m.t + ph - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="22" font-size="15">modelgate: p99 latency vs throughput (closed loop: filled, open loop: hollow)</text>`,
    `<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + ph}" stroke="black"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const x = (xMax / 5) * i;
    parts.push(`<line x1="${sx(x)}" y1="${m.t}" x2="${sx(x)}" y2="${m.t + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${sx(x)}" y="${m.t + ph + 18}" text-anchor="middle">${int(x)}</text>`);
  }
  for (let y = yMin; y <= yMax; y *= 10) {
    parts.push(`<line x1="${m.l}" y1="${sy(y)}" x2="${m.l + pw}" y2="${sy(y)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${sy(y) + 4}" text-anchor="end">${y >= 1000 ? `${y / 1000} ms` : `${y} µs`}</text>`);
  }
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 10}" text-anchor="middle">requests/s</text>`);
  parts.push(`<text x="16" y="${m.t + ph / 2}" transform="rotate(-90 16 ${m.t + ph / 2})" text-anchor="middle">p99 latency</text>`);
  rows.forEach((r, i) => {
    const color = COLORS[i % COLORS.length]!;
    const closed = points[i]!.filter((p) => !p.open).sort((a, b) => a.x - b.x);
    if (closed.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${closed.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of points[i]!) {
      parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" ${p.open ? `fill="white" stroke="${color}" stroke-width="2"` : `fill="${color}"`}/>`);
    }
    const ly = m.t + 10 + i * 18;
    parts.push(`<rect x="${W - m.r + 15}" y="${ly - 9}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${W - m.r + 32}" y="${ly + 1}">${esc(`${r.row} ×${r.workers}`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
