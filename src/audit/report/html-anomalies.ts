// The anomalies part of the HTML report: each finding with its evidence, escaped field by field.

import type { Anomaly } from './anomaly.js';
import type { Report } from './build-report.js';
import { clipped, figure, text } from './html-escape.js';

function evidenceValue(path: string, value: Anomaly['evidence'][string]): string {
  if (typeof value === 'number') return figure('json', path, value);
  if (typeof value === 'string') return `<code>${clipped(value, 200)}</code>`;
  const shown = value.slice(0, 50).map((v) => `<code>${clipped(v, 120)}</code>`);
  return `${shown.join(' ')}${value.length > shown.length ? ` … (${value.length - shown.length} more)` : ''}`;
}

function anomaly(a: Anomaly, i: number): string {
  const evidence = Object.entries(a.evidence)
    .map(([k, v]) => `<dt>${text(k)}</dt><dd>${evidenceValue(`anomalies.${i}.evidence.${k}`, v)}</dd>`)
    .join('');
  return `<li class="anomaly" data-kind="${text(a.kind)}"><p><span class="kind">${text(a.kind)}</span> <span class="actor">${clipped(a.actor, 120)}</span> at <span class="time">${text(a.at)}</span></p>
<p class="summary">${text(a.summary)}</p><dl>${evidence}</dl></li>`;
}

export function anomaliesSection(report: Report): string {
  const note = report.correlated ? '' : '<p class="note">Decision log not given: allowed-but-missing checks were not evaluated (<code>--decision-log</code>).</p>';
  const body = report.anomalies.length === 0 ? '<p class="empty">None.</p>' : `<ol class="anomalies">${report.anomalies.map(anomaly).join('')}</ol>`;
  return `<section id="anomalies"><h2>Anomalies (${figure('json', 'anomalies.length', report.anomalies.length)})</h2>${note}${body}</section>`;
}
