// The usage part of the HTML report: charts over time, and the per-subject / per-model tables.

import type { Report } from './build-report.js';
import { legend, reasonBars, stackedBars } from './html-charts.js';
import { clipped, figure, text } from './html-escape.js';
import { OTHER_SERIES, TIMELINE_TOP } from './timeline.js';

/** Rows shown per table; the rest are in `--json` (the page says how many were left out). */
export const TABLE_ROWS = 200;

function table(headers: readonly string[], rows: readonly string[][], total: number, what: string): string {
  const head = `<tr>${headers.map((h, i) => `<th${i === 0 ? '' : ' class="num"'}>${text(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.join('')}</tr>`).join('');
  const more = total > rows.length ? `<p class="note">${total - rows.length} more ${what} in <code>--json</code>.</p>` : '';
  return `<table><thead>${head}</thead><tbody>${body}</tbody></table>${more}`;
}

const name = (s: string): string => `<td class="name">${clipped(s, 120)}</td>`;
const cell = (path: string, n: number): string => figure('json', path, n, 'td');

function span(ms: number): string {
  const minutes = ms / 60_000;
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return minutes < 1440 ? `${minutes / 60} hour${minutes === 60 ? '' : 's'}` : `${minutes / 1440} day${minutes === 1440 ? '' : 's'}`;
}

export function usageOverTime(report: Report): string {
  const t = report.timeline;
  if (report.records === 0) return '<section id="over-time"><h2>Usage over time</h2><p class="empty">No requests in the window.</p></section>';
  const caption = `Requests per ${span(t.bucket_ms)} from ${text(t.start)}, stacked; beyond the ${TIMELINE_TOP} busiest series the rest are summed as ${OTHER_SERIES}.`;
  return `<section id="over-time"><h2>Usage over time</h2><p class="note">${caption}</p>
<h3>Per subject</h3>${stackedBars({ label: 'requests per subject over time', path: 'timeline.subjects', timeline: t, series: t.subjects })}${legend('timeline.subjects', t.subjects)}
<h3>Per model</h3>${stackedBars({ label: 'requests per model over time', path: 'timeline.models', timeline: t, series: t.models })}${legend('timeline.models', t.models)}
</section>`;
}

export function usageTables(report: Report): string {
  const subjects = report.subjects.slice(0, TABLE_ROWS).map((s, i) => [
    name(s.subject),
    ...(['requests', 'allowed', 'denied', 'models', 'bytes_received', 'bytes_sent'] as const).map((k) => cell(`subjects.${i}.${k}`, s[k])),
    `<td class="time">${text(s.last)}</td>`,
  ]);
  const models = report.models.slice(0, TABLE_ROWS).map((m, i) => [
    name(m.model),
    ...(['requests', 'allowed', 'denied', 'subjects', 'bytes_received', 'bytes_sent', 'mean_duration_ms'] as const).map((k) => cell(`models.${i}.${k}`, m[k])),
  ]);
  return `<section id="subjects"><h2>Per subject</h2>${table(['subject', 'requests', 'allowed', 'denied', 'models', 'bytes in', 'bytes out', 'last seen'], subjects, report.subjects.length, 'subjects')}</section>
<section id="models"><h2>Per model</h2>${table(['model', 'requests', 'allowed', 'denied', 'subjects', 'bytes in', 'bytes out', 'mean ms'], models, report.models.length, 'models')}</section>`;
}

export function denialsSection(report: Report): string {
  if (report.denials.length === 0) return '<section id="denials"><h2>Denials by reason</h2><p class="empty">No denials in the window.</p></section>';
  const rows = report.denials.map((d, i) => [name(d.reason), cell(`denials.${i}.denied`, d.denied), cell(`denials.${i}.subjects`, d.subjects)]);
  return `<section id="denials"><h2>Denials by reason</h2>${reasonBars(report.denials)}${table(['reason', 'denied', 'subjects'], rows, rows.length, 'reasons')}</section>`;
}
