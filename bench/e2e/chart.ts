// A hand-written SVG: latency each row adds to Envoy (row minus row (a), at p50 and at p99) against
// the offered load, one line per row, both axes log scale; the issue's targets as dashed lines.

import { saturated, type RowResult } from './report.js';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#7f7f7f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function addedLatencyChart(rows: readonly RowResult[], title: string): string {
  const base = rows[0]!;
  const others = rows.slice(1);
  const W = 1100;
  const H = 470;
  const panel = { w: 330, h: 300, t: 70, gap: 70, l: 60 };
  const offered = base.points.map((p) => p.offered!);
  // Log scale: the rates span 25× (2% to 50% of Envoy's maximum).
  const [xLo, xHi] = [Math.log10(Math.min(...offered) / 1.3), Math.log10(Math.max(...offered) * 1.3)];
  const added = (r: RowResult, key: 'p50' | 'p99') => r.points.map((p, i) => ({ x: p.offered!, y: (p[key] - base.points[i]![key]) / 1000, sat: saturated(p, r.max.achieved) }));
  // Log scale for the added latency (0.01 ms to the largest value): under load it spans five
  // decades. An addition at or below 0.01 ms (noise can make it negative) sits on the bottom edge.
  const all = others.flatMap((r) => [...added(r, 'p50'), ...added(r, 'p99')]).filter((p) => Number.isFinite(p.y));
  const [yLo, yHi] = [-2, Math.ceil(Math.log10(Math.max(1, ...all.map((p) => p.y))))];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${panel.l}" y="24" font-size="15">${esc(title)}</text>`,
    `<text x="${panel.l}" y="44" fill="#555">latency added to Envoy without ext_authz (row − row (a)), open loop (h2load --rps); hollow = row saturated at that load (its latency is queueing)</text>`,
  ];
  (['p50', 'p99'] as const).forEach((key, k) => {
    const x0 = panel.l + k * (panel.w + panel.gap);
    const sx = (x: number) => x0 + ((Math.log10(x) - xLo) / (xHi - xLo)) * panel.w;
    const sy = (y: number) => panel.t + panel.h - ((Math.log10(Math.max(y, 10 ** yLo)) - yLo) / (yHi - yLo)) * panel.h;
    parts.push(`<text x="${x0 + panel.w / 2}" y="${panel.t - 8}" text-anchor="middle" font-weight="bold">added ${key} (ms, log scale)</text>`);
    for (let e = yLo; e <= yHi; e++) {
      const y = 10 ** e;
      parts.push(`<line x1="${x0}" y1="${sy(y)}" x2="${x0 + panel.w}" y2="${sy(y)}" stroke="#eee"/>`, `<text x="${x0 - 6}" y="${sy(y) + 4}" text-anchor="end">${e === yLo ? '≤ ' : ''}${y >= 1 ? y : y.toFixed(-e)}</text>`);
    }
    // The issue's target for modelgate at this percentile.
    const target = key === 'p50' ? 0.3 : 1;
    parts.push(`<line x1="${x0}" y1="${sy(target)}" x2="${x0 + panel.w}" y2="${sy(target)}" stroke="#d62728" stroke-dasharray="5,4"/>`, `<text x="${x0 + panel.w - 4}" y="${sy(target) - 4}" text-anchor="end" fill="#d62728" font-size="10">target ${target} ms</text>`);
    for (const x of offered) parts.push(`<text x="${sx(x)}" y="${panel.t + panel.h + 16}" text-anchor="middle">${Math.round(x)}</text>`);
    parts.push(
      `<line x1="${x0}" y1="${panel.t + panel.h}" x2="${x0 + panel.w}" y2="${panel.t + panel.h}" stroke="black"/>`,
      `<line x1="${x0}" y1="${panel.t}" x2="${x0}" y2="${panel.t + panel.h}" stroke="black"/>`,
      `<text x="${x0 + panel.w / 2}" y="${panel.t + panel.h + 34}" text-anchor="middle">offered load (req/s, log scale)</text>`,
    );
    others.forEach((r, i) => {
      const color = COLORS[i % COLORS.length]!;
      const pts = added(r, key).filter((p) => Number.isFinite(p.y));
      // The line joins the loads the row carried; a saturated point stands alone (its latency is queueing).
      const carried = pts.filter((p) => !p.sat);
      if (carried.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${carried.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
      for (const p of pts) {
        parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" ${p.sat ? `fill="white" stroke="${color}" stroke-width="2"` : `fill="${color}"`}/>`);
      }
    });
  });
  const lx = panel.l + 2 * (panel.w + panel.gap) - 20;
  others.forEach((r, i) => {
    const y = panel.t + 10 + i * 36;
    parts.push(`<rect x="${lx}" y="${y - 9}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    wrap(`(${r.id}) ${r.label}`, 30).forEach((line, j) => parts.push(`<text x="${lx + 18}" y="${y + 1 + j * 14}">${esc(line)}</text>`));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}
