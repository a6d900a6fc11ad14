// Inline SVG charts drawn on the server: the page needs no script, so it renders the same everywhere.

import type { DenialReason } from './denials.js';
import { clipped, figure, text } from './html-escape.js';
import type { Series, Timeline } from './timeline.js';

const W = 760;
const H = 220;
const M = { left: 48, right: 8, top: 10, bottom: 26 };
const px = (n: number): string => String(Math.round(n * 100) / 100);

/** 1, 2, 5 × 10^k at or above `n`: round axis labels. */
export function niceCeiling(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((f) => f * p).find((v) => v >= n)!;
}

function bucketLabel(ms: number, bucketMs: number): string {
  const iso = new Date(ms).toISOString();
  return bucketMs >= 86_400_000 ? iso.slice(5, 10) : iso.slice(11, 16);
}

/** Requests per bucket, one stacked colour per series; each bar is tagged with its count's JSON path. */
export function stackedBars(o: { label: string; path: string; timeline: Timeline; series: readonly Series[] }): string {
  const { timeline: t, series } = o;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const totals = Array.from({ length: t.buckets }, (_, b) => series.reduce((a, s) => a + s.counts[b]!, 0));
  const top = niceCeiling(Math.max(...totals, 1));
  const slot = plotW / t.buckets;
  const barW = Math.max(slot * 0.8, 0.5);
  const y = (v: number): number => M.top + plotH - (v / top) * plotH;
  const start = Date.parse(t.start);
  const parts: string[] = [];
  for (const v of [0, top / 2, top]) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${px(y(v))}" y2="${px(y(v))}"/>`);
    parts.push(`<text class="axis" x="${M.left - 6}" y="${px(y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  const every = Math.ceil(t.buckets / 8);
  for (let b = 0; b < t.buckets; b += every) {
    parts.push(`<text class="axis" x="${px(M.left + b * slot)}" y="${H - 8}">${bucketLabel(start + b * t.bucket_ms, t.bucket_ms)}</text>`);
  }
  for (let b = 0; b < t.buckets; b++) {
    let base = 0;
    const when = new Date(start + b * t.bucket_ms).toISOString();
    series.forEach((s, i) => {
      const count = s.counts[b]!;
      if (count === 0) return;
      const y0 = y(base);
      const y1 = y(base + count);
      base += count;
      parts.push(
        `<rect class="bar c${i}" x="${px(M.left + b * slot + (slot - barW) / 2)}" y="${px(y1)}" width="${px(barW)}" height="${px(y0 - y1)}"` +
          ` data-json="${o.path}.${i}.counts.${b}" data-value="${count}"><title>${clipped(s.name, 120)} · ${when}: ${count}</title></rect>`,
      );
    });
  }
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${text(o.label)}">${parts.join('')}</svg>`;
}

/** The legend under a stacked chart: series names (escaped) with their totals. */
export function legend(path: string, series: readonly Series[]): string {
  const items = series.map(
    (s, i) => `<li><span class="swatch c${i}"></span><span class="name">${clipped(s.name, 80)}</span> ${figure('json', `${path}.${i}.total`, s.total)}</li>`,
  );
  return `<ul class="legend">${items.join('')}</ul>`;
}

/** Denials per reason as horizontal bars, labels drawn in the SVG itself. */
export function reasonBars(denials: readonly DenialReason[]): string {
  const row = 24;
  const labelW = 240;
  const height = denials.length * row + 8;
  const max = Math.max(...denials.map((d) => d.denied), 1);
  const barSpace = W - labelW - 70;
  const parts = denials.map((d, i) => {
    const y = 4 + i * row;
    const width = (d.denied / max) * barSpace;
    return (
      `<text class="label" x="${labelW - 8}" y="${y + 16}" text-anchor="end">${clipped(d.reason, 36)}</text>` +
      `<rect class="bar deny" x="${labelW}" y="${y + 3}" width="${px(width)}" height="${row - 6}" data-json="denials.${i}.denied" data-value="${d.denied}"><title>${clipped(d.reason, 200)}: ${d.denied}</title></rect>` +
      `<text class="axis" x="${px(labelW + width + 6)}" y="${y + 16}" data-json="denials.${i}.denied" data-value="${d.denied}">${d.denied}</text>`
    );
  });
  return `<svg class="chart" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="denials by reason">${parts.join('')}</svg>`;
}
