// Renders a report as plain text for a terminal or an incident ticket.

import type { Report } from './build-report.js';

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function formatReport(report: Report): string {
  const out: string[] = [];
  out.push(`Audit report ${report.window.from} .. ${report.window.to} (baseline from ${report.window.baseline_from}), ${report.records} records`);
  out.push('');
  out.push(report.anomalies.length === 0 ? 'Anomalies: none' : `Anomalies (${report.anomalies.length}):`);
  for (const a of report.anomalies) out.push(`  [${a.kind}] ${a.actor} at ${a.at}: ${a.summary}`);
  if (!report.correlated) out.push('  (decision log not given: allowed-but-missing checks not evaluated)');
  out.push('', 'Per subject:');
  out.push(table(['subject', 'requests', 'allowed', 'denied', 'models', 'bytes_in', 'bytes_out', 'last'],
    report.subjects.map((s) => [s.subject, s.requests, s.allowed, s.denied, s.models, s.bytes_received, s.bytes_sent, s.last])));
  out.push('', 'Per model:');
  out.push(table(['model', 'requests', 'allowed', 'denied', 'subjects', 'bytes_in', 'bytes_out', 'mean_ms'],
    report.models.map((m) => [m.model, m.requests, m.allowed, m.denied, m.subjects, m.bytes_received, m.bytes_sent, m.mean_duration_ms])));
  return `${out.join('\n')}\n`;
}
