// deploy/prometheus/alerts.yaml checked by Debian's promtool (syntax and its unit tests), with every
// alert covered by a firing and a silent case, and every metric the alerts and the dashboard read
// actually exported by modelgate.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { meteredSink } from '../../../src/audit/metered-sink.js';
import { receiverMonitor } from '../../../src/audit/receiver-monitor.js';
import { budgetMetrics } from '../../../src/budget/metrics.js';
import { extProcMetrics } from '../../../src/extproc/metrics.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { PROMTOOL, requirePrometheus } from '../../helpers/deploy/prometheus.js';
import { dashboardQueries, metricNames } from '../../helpers/deploy/dashboard-queries.js';

const run = promisify(execFile);
const DIR = join(import.meta.dirname, '../../../deploy/prometheus');

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}
interface RuleTests {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

const rules = parse(readFileSync(join(DIR, 'alerts.yaml'), 'utf8')) as RuleFile;
const tests = parse(readFileSync(join(DIR, 'alerts.test.yaml'), 'utf8')) as RuleTests;
const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);

/** Every series name a scrape of `serve` can hold: the check metrics, the audit receiver's, budgets', ext_proc's, and the process defaults. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  meteredSink({ append: async () => ({ lastSeq: 0 }) }, { registry: metrics.registry });
  receiverMonitor({ log: { info: () => undefined, warn: () => undefined, error: () => undefined }, registry: metrics.registry });
  // With budgets and ext_proc (src/budget/metrics.ts, src/extproc/metrics.ts), on the same registry.
  budgetMetrics(metrics.registry);
  extProcMetrics(metrics.registry);
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (metric.type === ('histogram' as never)) for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    for (const v of metric.values as Array<{ metricName?: string }>) if (v.metricName) names.add(v.metricName);
  }
  return names;
}

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', async () => {
    requirePrometheus();
    const { stdout } = await run(PROMTOOL, ['check', 'rules', 'alerts.yaml'], { cwd: DIR });
    expect(stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('pass their promtool unit tests', async () => {
    requirePrometheus();
    const result = await run(PROMTOOL, ['test', 'rules', 'alerts.test.yaml'], { cwd: DIR }).catch((error: { stdout: string; stderr: string }) => error);
    expect(`${result.stdout}${result.stderr}`).toMatch(/SUCCESS/);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/FAILED/);
  });

  it('cover every alert with a case where it fires and one where it stays silent', () => {
    expect(tests.rule_files).toEqual(['alerts.yaml']);
    expect(alerts.map((a) => a.alert)).toEqual([
      'ModelgateDenyRateSpike',
      'ModelgateAnswering503s',
      'ModelgateRedisUnavailable',
      'ModelgateJwksFetchFailing',
      'ModelgateAuditChainStalled',
      'ModelgateAuditStoreErrors',
      'ModelgateCheckLatencyP99OverBudget',
      'ModelgateBudgetSettlementsFailing',
      'ModelgateBudgetReservationsExpiring',
    ]);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert.alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${alert.alert} never fires in a test`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${alert.alert} has no silent case`).toBe(true);
    }
  });

  it('give every alert a severity, a summary and a description', () => {
    for (const alert of alerts) {
      expect(['warning', 'critical'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
    }
  });

  it('read only metrics modelgate exports, in the alerts and in the dashboard', async () => {
    const exported = await exportedNames();
    const read = [...alerts.map((a) => ({ where: a.alert!, expr: a.expr })), ...dashboardQueries().map((q) => ({ where: `${q.panel} ${q.refId}`, expr: q.raw }))];
    const unknown = read.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
    // The check would catch a typo: the extractor does find names.
    expect(metricNames(alerts[0]!.expr)).toEqual(['modelgate_checks_total']);
  });
});
