// The dashboard and the alert rules against a real Prometheus scraping a real modelgate under real
// traffic: gRPC checks (allowed, unauthenticated, denied by rule, rate limited through the Redis
// limiter), JWT keys fetched from a JWKS server, a config reload, and Envoy-shaped access-log
// streams into the audit chain. Every dashboard query must run without error and return series with
// numbers (not NaN); every alert rule must evaluate without error.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { signingKey, signToken, startJwksServer, type JwksServer } from '../../helpers/jwt.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { batches, farFutureEntry, goodEntry, streamMessages } from '../../helpers/audit/als-client.js';
import { dashboardQueries, readDashboard, substitute } from '../../helpers/deploy/dashboard-queries.js';
import { startPrometheus, type PrometheusServer } from '../../helpers/deploy/prometheus.js';

const ISSUER = 'https://idp.test';
const JOB = 'modelgate';
const ALERTS = join(import.meta.dirname, '../../../deploy/prometheus/alerts.yaml');

const config = (jwksUri: string, redisUrl: string, dir: string) => `
identity:
  jwt:
    issuers: [{ name: idp, issuer: ${ISSUER}, audiences: [modelgate], jwks_uri: '${jwksUri}', algorithms: [ES256] }]
policy:
  roles: { analyst: null }
  rules:
    - { id: analysts, effect: allow, roles: [analyst], models: [fraud-detector, churn] }
    - { id: no-train, effect: deny, actions: [train] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', action: predict }
      - { pattern: '/v1/models/{model}:train', action: train }
limits:
  redis: { url: '${redisUrl}' }
  buckets:
    - { id: churn-budget, rate: 1, per: hour, burst: 3, match: { models: [churn] } }
audit:
  store: { dir: '${join(dir, 'store')}', signing_key_file: '${join(dir, 'audit.key')}', batch_max_delay: 5ms }
  receiver: { listen: '127.0.0.1:0' }
  privacy: { hash_key_file: '${join(dir, 'hash.key')}' }
`;

describe('Grafana dashboard and alert rules on a real Prometheus', () => {
  let dir: string;
  let redis: RedisServer;
  let idp: JwksServer;
  let gate: TestGate;
  let prometheus: PrometheusServer;
  let instance: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-dashboard-'));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'hash.key'), 'dashboard-test-hash-key-0123456789');
    const key = await signingKey('ES256', 'k1');
    redis = await startRedis();
    idp = await startJwksServer(ISSUER, key);
    gate = await startTestGate(config(idp.jwksUri, redis.url, dir));
    instance = `127.0.0.1:${gate.gate.adminPort!}`;
    prometheus = await startPrometheus({ targets: { [JOB]: [instance] }, ruleFiles: [ALERTS] });

    // One scrape before any traffic, so every rate below covers the traffic.
    await until(async () => (await prometheus.query(`up{job="${JOB}"} == 1`)).length === 1, 'the first scrape');

    const token = await signToken(key, { issuer: ISSUER, subject: 'alice', claims: { roles: ['analyst'] } });
    const check = async (path: string, auth = true) =>
      (await gate.client.check(envoyCheckRequest({ path, headers: auth ? { authorization: `Bearer ${token}` } : {} }))).status.code;
    // Twice, with a scrape in between: a counter series born in one scrape has no rate until the next
    // scrape sees it grow, so each series must grow after Prometheus first saw it.
    const traffic = async (phase: number) => {
      for (let i = 0; i < 5; i++) expect(await check('/v1/models/fraud-detector:predict')).toBe(0);
      expect(await check('/v1/models/fraud-detector:predict', false)).toBe(16);
      expect(await check('/v1/models/fraud-detector:train')).toBe(7);
      // churn-budget holds 3: allowed, allowed | allowed, rate limited.
      expect(await check('/v1/models/churn:predict')).toBe(0);
      expect(await check('/v1/models/churn:predict')).toBe(phase === 1 ? 0 : 8);
      // Envoy's access logs for allowed requests, and one entry no record can hold (a drop), on the receiver's port.
      const now = Math.floor(Date.now() / 1000);
      const entries = [0, 1, 2, 3].map((n) => goodEntry(`req-${phase}-${n}`, now - 2));
      expect(await streamMessages(gate.gate.auditPort!, batches(entries, [farFutureEntry(`req-${phase}-bad`)]))).toBeNull();
      await until(async () => sampleValue(await prometheus.query(`sum(modelgate_checks_total{job="${JOB}"})`)) === 9 * phase, `phase ${phase} checks scraped`);
      await until(async () => sampleValue(await prometheus.query(`sum(modelgate_audit_records_stored_total{job="${JOB}"})`)) === 4 * phase, `phase ${phase} audit scraped`);
    };
    await traffic(1);
    expect(idp.fetches()).toBeGreaterThanOrEqual(1);
    // A reload, as SIGHUP or a changed file would start.
    expect(await gate.gate.reload()).toEqual({ ok: true });
    await traffic(2);
    // And once more, so a rate ends on a sample taken after all of it.
    await new Promise((r) => setTimeout(r, 2_500));
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await gate?.close();
    await idp?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers every dashboard query with series holding numbers', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(25);
    const failures: string[] = [];
    for (const q of queries) {
      const expr = substitute(q.raw, { job: JOB, instance: '.*', rateInterval: '2m', range: '5m' });
      try {
        const result = await prometheus.query(expr);
        if (result.length === 0) failures.push(`${q.panel} [${q.refId}]: no series: ${expr}`);
        else if (result.every((s) => !Number.isFinite(Number(s.value[1])))) failures.push(`${q.panel} [${q.refId}]: only NaN/Inf: ${expr}`);
      } catch (error) {
        failures.push(`${q.panel} [${q.refId}]: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('shows the traffic the test sent, not merely some series', async () => {
    const at = (expr: string) => prometheus.query(substitute(expr, { job: JOB, instance: '.*' }));
    const reasons = await at('sum by (decision, reason) (increase(modelgate_checks_total{job=~"$job"}[5m]))');
    expect(reasons.map((s) => `${s.metric.decision}/${s.metric.reason}`).sort()).toEqual(
      ['allow/allowed', 'deny/denied_by_rule', 'deny/no_credential', 'deny/rate_limited'],
    );
    const outcomes = await at('sum by (outcome) (modelgate_ratelimit_outcomes_total{job=~"$job"})');
    expect(Object.fromEntries(outcomes.map((s) => [s.metric.outcome, Number(s.value[1])]))).toMatchObject({ allowed: 3, rate_limited: 1 });
    expect(sampleValue(await at('sum(modelgate_redis_call_duration_seconds_count{job=~"$job",outcome="ok"})'))).toBeGreaterThanOrEqual(3);
    expect(sampleValue(await at('sum(modelgate_jwks_fetches_total{job=~"$job",outcome="ok"})'))).toBeGreaterThanOrEqual(1);
    expect(sampleValue(await at('sum(modelgate_policy_reloads_total{job=~"$job",result="success"})'))).toBe(1);
    expect(sampleValue(await at('sum(modelgate_audit_entries_dropped_total{job=~"$job",reason="entry_invalid"})'))).toBe(2);
    // The entries started ~2 s before they were stored: the lag histogram saw 8 records, none negative.
    expect(sampleValue(await at('sum(modelgate_audit_ingest_lag_seconds_count{job=~"$job"})'))).toBe(8);
    expect(sampleValue(await at('histogram_quantile(0.5, sum by (le) (modelgate_audit_ingest_lag_seconds_bucket{job=~"$job"}))'))).toBeGreaterThan(0);
  });

  it('resolves the template variables the way Grafana asks for them', async () => {
    const variables = readDashboard().templating.list;
    expect(variables.map((v) => v.name)).toEqual(['datasource', 'job', 'instance']);
    // label_values(metric{selector}, label) is Grafana's; Prometheus answers it at /api/v1/label/<label>/values.
    for (const v of variables.filter((x) => x.type === 'query')) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(v.definition ?? '');
      expect(m, v.name).not.toBeNull();
      const match = substitute(m![1]!, { job: JOB, instance: '.*' });
      const values = await prometheus.api<string[]>(`label/${m![2]}/values?match[]=${encodeURIComponent(match)}`);
      expect(values).toContain(v.name === 'job' ? JOB : instance);
      expect(v.allValue).toBe('.*');
    }
  });

  it('loads every alert rule and evaluates it against real series without error', async () => {
    type Rule = { name: string; type: string; health: string; lastError?: string; lastEvaluation: string };
    let rules: Rule[] = [];
    await until(async () => {
      const data = await prometheus.api<{ groups: Array<{ rules: Rule[] }> }>('rules');
      rules = data.groups.flatMap((g) => g.rules);
      return rules.length > 0 && rules.every((r) => r.health !== 'unknown');
    }, 'rule evaluation');
    expect(rules.map((r) => r.name).sort()).toEqual([
      'ModelgateAnswering503s',
      'ModelgateAuditChainStalled',
      'ModelgateAuditStoreErrors',
      'ModelgateBudgetReservationsExpiring',
      'ModelgateBudgetSettlementsFailing',
      'ModelgateCheckLatencyP99OverBudget',
      'ModelgateDenyRateSpike',
      'ModelgateJwksFetchFailing',
      'ModelgateRedisUnavailable',
    ]);
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    // Nothing is wrong with this instance; no alert may be pending or firing.
    const alerts = await prometheus.api<{ alerts: Array<{ labels: { alertname: string } }> }>('alerts');
    expect(alerts.alerts.map((a) => a.labels.alertname)).toEqual([]);
  });
});

function sampleValue(result: ReadonlyArray<{ value: [number, string] }>): number {
  return result.length === 1 ? Number(result[0]!.value[1]) : Number.NaN;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
