// Prometheus metrics for one modelgate instance, in its own registry (never the global one, so
// several instances in one process, as in tests, never collide). Every label value is bounded:
// reason codes, auth methods, config-declared models, rule ids and bucket ids, error classes.

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Answer } from '../decision/answer.js';
import { hasLimitMetadata, type Decision } from '../decision/decision.js';
import { deferredCounter, type CounterSeries } from './deferred-counter.js';
import { LatencyHistogram, type LatencySeries } from './latency-histogram.js';
import { modelLabeler } from './model-label.js';
import { inputShadowRuleIds } from '../guardrails/input/metrics.js';

/** Sub-millisecond resolution where a cached check lives (~50–200 µs), coarse above Envoy's 200 ms budget. */
export const CHECK_LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1];

export interface ModelgateMetrics {
  readonly registry: Registry;
  /** The authorizer's `observe` hook: one call per finished check. */
  observeCheck(decision: Decision, answer: Answer, latencySeconds: number): void;
  jwksFetch(issuer: string, outcome: 'ok' | 'error'): void;
  tokenCache(hit: boolean): void;
  internalError(error: unknown): void;
  /** What the process-level guard caught: a rejection nobody handled, or an exception nobody caught. */
  uncaughtError(kind: 'unhandled_rejection' | 'uncaught_exception', error: unknown): void;
  /** The readiness verdict /readyz and gRPC health give, and whether it is degraded (serving on a fail mode). */
  setReadiness(ready: boolean, degraded: boolean): void;
  reload(result: 'success' | 'failure'): void;
  /** After a config is in service: bounded model labels, shadow-deny rule ids, the policy hash gauge. */
  setPolicy(config: Config, sha256: string): void;
  /** The Redis limiter reports each script call here (createLimiter's onRedisCall). */
  redisCall(outcome: 'ok' | 'error', seconds: number): void;
  /** The Redis limiter reports each change of its circuit here (createLimiter's onRedisCircuit). */
  redisCircuit(state: 'closed' | 'open' | 'half_open'): void;
}

/** The circuit gauge's values: higher is worse, so `max` over workers shows the worst. */
const CIRCUIT_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

export interface MetricsOptions {
  /** Process, heap, GC and event-loop-lag metrics; on for servers, off for short-lived tools. */
  readonly defaultMetrics?: boolean;
}

const LIMIT_REASONS = new Set(['rate_limited', 'temporarily_blocked', 'limiter_unavailable']);

export function createMetrics(options: MetricsOptions = {}): ModelgateMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // The two per-check metrics take plain additions on the hot path (see deferred-counter.ts, latency-histogram.ts).
  const checks = deferredCounter({
    name: 'modelgate_checks_total',
    help: 'Checks answered, by decision, reason code, auth method and model (models not named in the policy are "other")',
    labelNames: ['decision', 'reason', 'auth_method', 'model'] as const,
    registers,
  });
  const latency = new LatencyHistogram(
    'modelgate_check_duration_seconds',
    'Time from receiving a check to its answer being handed to the transport',
    CHECK_LATENCY_BUCKETS,
    registers,
  );
  const jwks = new Counter({
    name: 'modelgate_jwks_fetches_total',
    help: 'JWKS / OIDC discovery fetches by issuer and outcome (ok, error)',
    labelNames: ['issuer', 'outcome'] as const,
    registers,
  });
  const tokenCache = new Counter({
    name: 'modelgate_jwt_cache_lookups_total',
    help: 'Verified-token cache lookups (hit skips signature verification)',
    labelNames: ['result'] as const,
    registers,
  });
  const limiter = deferredCounter({
    name: 'modelgate_ratelimit_outcomes_total',
    help: 'Limiter outcomes by outcome (allowed, rate_limited, temporarily_blocked, limiter_unavailable, unlimited) and bucket',
    labelNames: ['outcome', 'bucket'] as const,
    registers,
  });
  const limiterShadow = new Counter({
    name: 'modelgate_ratelimit_shadow_denied_total',
    help: 'Requests a shadow-mode bucket would have denied',
    labelNames: ['bucket'] as const,
    registers,
  });
  const limiterBackend = new Counter({
    name: 'modelgate_ratelimit_backend_errors_total',
    help: 'Limiter backend failures seen in decisions (Redis, or the in-memory store full: memory_full), by error class and handling (fail_closed, fail_open, fallback)',
    labelNames: ['class', 'handling'] as const,
    registers,
  });
  const redisLatency = new LatencyHistogram(
    'modelgate_redis_call_duration_seconds',
    'Redis limiter script calls, one per check that reaches Redis, by outcome (error includes timeouts)',
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers,
  );
  const circuitState = new Gauge({
    name: 'modelgate_ratelimit_redis_circuit_state',
    help: 'The Redis limiter circuit: 0 closed (checks go to Redis), 1 half-open (trying Redis again), 2 open (each limit applies its on_redis_error without waiting)',
    registers,
    aggregator: 'max',
  });
  const circuitChanges = new Counter({
    name: 'modelgate_ratelimit_redis_circuit_transitions_total',
    help: 'Changes of the Redis limiter circuit, by the state entered (open, half_open, closed)',
    labelNames: ['state'] as const,
    registers,
  });
  for (const state of Object.keys(CIRCUIT_VALUE)) circuitChanges.inc({ state }, 0);
  const redisOk = redisLatency.series({ outcome: 'ok' });
  const redisError = redisLatency.series({ outcome: 'error' });
  const reloads = new Counter({
    name: 'modelgate_policy_reloads_total',
    help: 'Config reloads by result (success, failure); a failure keeps the previous config serving',
    labelNames: ['result'] as const,
    registers,
  });
  const policyInfo = new Gauge({
    name: 'modelgate_policy_info',
    help: 'Always 1; the sha256 label is the hash of the config file currently in service',
    labelNames: ['sha256'] as const,
    registers,
    // Summed over cluster workers it would read N; two series mean the workers serve different files.
    aggregator: 'max',
  });
  const policyLoaded = new Gauge({
    name: 'modelgate_policy_loaded_timestamp_seconds',
    help: 'When the config currently in service was loaded',
    registers,
    // Over cluster workers: the oldest load still serving, so it moves once every worker has reloaded.
    aggregator: 'min',
  });
  const shadow = new Counter({
    name: 'modelgate_shadow_would_deny_total',
    help: 'Checks a shadow-mode deny rule would have denied, by rule id',
    labelNames: ['rule'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'modelgate_internal_errors_total',
    help: 'Checks that failed internally and were answered with the error deny, by error class',
    labelNames: ['class'] as const,
    registers,
  });
  const uncaught = new Counter({
    name: 'modelgate_uncaught_errors_total',
    help: 'Errors no handler caught, seen by the process guard of `modelgate serve`, by kind (unhandled_rejection: logged, serving goes on; uncaught_exception: the process exits 1) and error class',
    labelNames: ['kind', 'class'] as const,
    registers,
  });
  const ready = new Gauge({
    name: 'modelgate_ready',
    help: '1 when /readyz answers 200 and gRPC health says SERVING: the instance answers correctly under its configured fail modes',
    registers,
    // Over cluster workers: ready only if every worker is.
    aggregator: 'min',
  });
  const degraded = new Gauge({
    name: 'modelgate_degraded',
    help: '1 while the instance serves on a fail mode (the rate limiter backend is unreachable and every enforced limit is fail_open)',
    registers,
    // Over cluster workers: degraded if any worker is.
    aggregator: 'max',
  });
  for (const result of ['success', 'failure']) reloads.inc({ result }, 0);

  let labelModel: (model: string | undefined) => string = () => 'other';
  let shadowDenyRules: ReadonlySet<string> = new Set();
  // A check's labels repeat, so each combination's series is looked up by one string. Every part
  // is a bounded label value, so the map is as bounded as the series themselves.
  const seriesByKey = new Map<string, { count: CounterSeries; latency: LatencySeries }>();
  const limiterByKey = new Map<string, CounterSeries>();

  return {
    registry,
    observeCheck(decision, _answer, seconds) {
      const series = checkSeries(decision);
      series.count.inc();
      series.latency.observe(seconds);
      for (const rule of decision.shadowRules) if (shadowDenyRules.has(rule)) shadow.inc({ rule });
      observeLimit(decision);
    },
    jwksFetch: (issuer, outcome) => jwks.inc({ issuer, outcome }),
    tokenCache: (hit) => tokenCache.inc({ result: hit ? 'hit' : 'miss' }),
    internalError: (error) => errors.inc({ class: errorClass(error) }),
    uncaughtError: (kind, error) => uncaught.inc({ kind, class: errorClass(error) }),
    setReadiness(isReady, isDegraded) {
      ready.set(isReady ? 1 : 0);
      degraded.set(isDegraded ? 1 : 0);
    },
    reload: (result) => reloads.inc({ result }),
    setPolicy(config, sha256) {
      labelModel = modelLabeler(config.policy);
      seriesByKey.clear();
      shadowDenyRules = new Set([...config.policy.rules.filter((r) => r.shadow && r.effect === 'deny').map((r) => r.id), ...inputShadowRuleIds(config)]);
      policyInfo.reset();
      policyInfo.set({ sha256 }, 1);
      policyLoaded.set(Date.now() / 1000);
    },
    redisCall: (outcome, seconds) => (outcome === 'ok' ? redisOk : redisError).observe(seconds),
    redisCircuit(state) {
      circuitState.set(CIRCUIT_VALUE[state]);
      circuitChanges.inc({ state });
    },
  };


  function checkSeries(decision: Decision): { count: CounterSeries; latency: LatencySeries } {
    const verdict = decision.allowed ? 'allow' : 'deny';
    const authMethod = decision.identity?.method ?? 'none';
    const model = labelModel(decision.model);
    const key = `${verdict}\u0000${decision.reason}\u0000${authMethod}\u0000${model}`;
    let series = seriesByKey.get(key);
    if (!series) {
      series = {
        count: checks.series({ decision: verdict, reason: decision.reason, auth_method: authMethod, model }),
        latency: latency.series({ decision: verdict }),
      };
      seriesByKey.set(key, series);
    }
    return series;
  }

  function observeLimit(decision: Decision): void {
    const limit = decision.limit;
    if (!limit) return;
    const meta = limit.metadata;
    const bucket = String(meta.ratelimit_bucket ?? limit.limitId ?? 'none');
    const outcome = decision.allowed ? (hasLimitMetadata(decision) ? 'allowed' : 'unlimited') : LIMIT_REASONS.has(decision.reason) ? decision.reason : 'allowed';
    const key = `${outcome}\u0000${bucket}`;
    let child = limiterByKey.get(key);
    if (!child) {
      child = limiter.series({ outcome, bucket });
      limiterByKey.set(key, child);
    }
    child.inc();
    for (const id of limit.shadowDenied) limiterShadow.inc({ bucket: id });
    // An error with an allow is a fail_open limit (or the in-memory store's memory_full passing a
    // new bucket uncharged); with a deny it is fail_closed.
    if (meta.ratelimit_error !== undefined) limiterBackend.inc({ class: String(meta.ratelimit_error), handling: decision.allowed ? 'fail_open' : 'fail_closed' });
    if (meta.ratelimit_fallback !== undefined) limiterBackend.inc({ class: 'unknown', handling: 'fallback' });
  }
}

/** A class name, never a message: messages carry unbounded (and possibly private) text. */
export function errorClass(error: unknown): string {
  const name = error instanceof Error ? error.constructor.name || error.name : typeof error;
  return name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40) || 'unknown';
}
