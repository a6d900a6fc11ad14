// Reads deploy/grafana/modelgate.json: every panel query, and the template variables, with the
// Grafana placeholders replaced by values a plain Prometheus accepts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARD_FILE = join(import.meta.dirname, '../../../deploy/grafana/modelgate.json');

export interface DashboardQuery {
  readonly panel: string;
  readonly refId: string;
  /** As written in the dashboard. */
  readonly raw: string;
}

interface Panel {
  readonly title: string;
  readonly type: string;
  readonly targets?: Array<{ refId: string; expr?: string }>;
  readonly panels?: Panel[];
}

export interface Dashboard {
  readonly panels: Panel[];
  readonly templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string; allValue?: string }> };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export function dashboardQueries(dashboard: Dashboard = readDashboard()): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const visit = (panels: readonly Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr === undefined) throw new Error(`panel "${panel.title}" ${target.refId}: no expr`);
        out.push({ panel: panel.title, refId: target.refId, raw: target.expr });
      }
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return out;
}

/**
 * What Grafana would send: `$job`/`$instance` as chosen (a regex, the variables are multi-valued),
 * `$__rate_interval` and `$__range` as durations. Any `$` left over is a placeholder we do not know.
 */
export function substitute(expr: string, vars: { job: string; instance: string; rateInterval?: string; range?: string }): string {
  const out = expr
    .replaceAll('$__rate_interval', vars.rateInterval ?? '1m')
    .replaceAll('$__range', vars.range ?? '5m')
    .replaceAll('$job', vars.job)
    .replaceAll('$instance', vars.instance);
  if (out.includes('$')) throw new Error(`unknown Grafana placeholder left in: ${out}`);
  return out;
}

/** Metric names a PromQL expression reads (identifiers followed by a selector, range or `)`), label names excluded. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const stripped = expr.replace(/\{[^}]*\}/g, '{}').replace(/"[^"]*"/g, '""');
  for (const m of stripped.matchAll(/\b((?:modelgate|process|nodejs)_[a-zA-Z0-9_]+)\b/g)) names.add(m[1]!);
  return [...names];
}
