// The shared limiter: token buckets in Redis, one atomic Lua decision per check (one script call
// per check, or the checks of one loop turn in one call: batch.ts), with a local fallback
// per limit when Redis fails or is slow, and a circuit that stops waiting on a Redis known down.

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Limiter, LimitOutcome, LimitRequest } from './limiter.js';
import type { CompiledLimits, Plan } from './compile.js';
import { connectRedis, evalTakeScript, redactUrl, type LimiterClient } from './redis-connection.js';
import { Circuit, type CircuitState } from './circuit.js';
import { Deadlines } from './deadlines.js';
import { DenyCache } from './deny-cache.js';
import { LoadFactor } from './load-factor.js';
import { MemoryTokens, memoryOutcome } from './memory-limiter.js';
import { toOutcome } from './report.js';
import type { TakeResult } from './take-tokens.js';
import { parseScriptReply } from './token-bucket-script.js';
import { withTimeout } from './with-timeout.js';
import { ScriptBatcher } from './batch.js';
import { runAdmitScript } from '../budget/admit-call.js';
import { isEstimateProblem } from '../budget/estimate.js';
import type { BudgetEvents } from '../budget/events.js';
import { admissionOutcome, problemOutcome } from '../budget/outcome.js';
import { MemorySettler, RedisSettler } from '../budget/settle.js';

export { parseScriptReply };

export interface RedisLimiterOptions {
  readonly logger?: Logger | undefined;
  /**
   * `redis` (production): the script reads Redis TIME so every replica shares one clock.
   * `request`: the script uses `request.now`, for tests that drive time by hand.
   */
  readonly clock?: 'redis' | 'request';
  /** How long keys outlive the moment their bucket is full again; default 1 s. */
  readonly ttlPadMs?: number;
  /** Each script call of a check: answered (`ok`) or failed / timed out (`error`), and how long it took. */
  readonly onCall?: ((outcome: 'ok' | 'error', seconds: number) => void) | undefined;
  /** Each change of the circuit's state (logged here too): metrics. */
  readonly onCircuit?: ((state: CircuitState) => void) | undefined;
  /** With `limits.redis.batch`: each batched script call and how many checks it carried. */
  readonly onBatch?: ((checks: number) => void) | undefined;
  /** Budget metrics hooks (budget/metrics.ts). */
  readonly events?: BudgetEvents | undefined;
}

const ALLOWED_NOTHING: LimitOutcome = { allowed: true, responseHeaders: [], metadata: {}, shadowDenied: [] };
const ERROR_LOG_EVERY_MS = 10_000;
/** The error class of a check answered by its fail mode without asking Redis. */
const CIRCUIT_OPEN = 'circuit_open';

class RedisTimeout extends Error {
  override readonly name = 'RedisTimeout';
}

class RedisDisconnected extends Error {
  override readonly name = 'RedisDisconnected';
}

/**
 * A Redis call bounded by `ms`. A script that already reached Redis may still run after we gave up
 * on it, charging tokens for a check that was answered by the fail mode: the error is on the strict
 * side, and rare.
 */
function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  return withTimeout(promise, ms, () => new RedisTimeout(`redis did not answer within ${ms} ms`));
}

/** The script arguments that are the same for every check: TTL padding, idle cap, block policy. */
export function staticScriptArgs(compiled: CompiledLimits, ttlPadMs: number): string[] {
  const p = compiled.policy;
  const maxIdleMs = compiled.config.redis.max_idle_seconds * 1000;
  return [ttlPadMs, maxIdleMs, p.afterViolations, p.windowMs, p.baseMs, p.factor, p.maxMs, p.forgetMs].map(String);
}

/** One check in one script call; `nowMs` undefined lets the script read Redis TIME. */
export async function runTakeScript(
  client: LimiterClient,
  plan: Plan,
  options: { readonly nowMs: number | undefined; readonly scale: number; readonly staticArgs: readonly string[] },
): Promise<TakeResult> {
  const args: string[] = [options.nowMs === undefined ? '' : String(options.nowMs), String(options.scale), ...options.staticArgs];
  for (const c of plan.charges) args.push(String(c.capacity), String(c.rate), String(c.periodMs), String(c.cost), c.shadow ? '1' : '0');
  const keys = [plan.keys.block, plan.keys.strikes, plan.keys.violations, ...plan.charges.map((c) => c.key)];
  const reply = await evalTakeScript(client, keys, args);
  return parseScriptReply(reply, plan.charges.length);
}

export class RedisLimiter implements Limiter {
  readonly #client: LimiterClient;
  readonly #fallback: MemoryTokens;
  readonly #denyCache: DenyCache;
  readonly #loadFactor: LoadFactor | undefined;
  readonly #timeoutMs: number;
  readonly #deadlines: Deadlines;
  readonly #circuit: Circuit;
  /** One frozen fail-closed outcome per error class: the open circuit answers many. */
  readonly #unavailable = new Map<string, LimitOutcome>();
  readonly #staticArgs: string[];
  readonly #requestClock: boolean;
  /** `limits.redis.batch` on a standalone Redis: the checks of one loop turn share one script call. */
  readonly #batcher: ScriptBatcher | undefined;
  #lastErrorLog = -Infinity;
  readonly settler: RedisSettler | undefined;
  /** Counters for metrics and tests: Redis failures answered by the fail mode. */
  readonly failures = { fallbackOpen: 0, failedClosed: 0 };

  constructor(private readonly compiled: CompiledLimits, private readonly options: RedisLimiterOptions = {}) {
    const { redis } = compiled.config;
    if (redis.url === undefined) throw new Error('RedisLimiter needs limits.redis.url');
    this.#timeoutMs = redis.timeout_ms;
    this.#requestClock = options.clock === 'request';
    this.#client = connectRedis({ url: redis.url, tlsCaFile: redis.tls_ca_file, onError: (e) => this.#logError(e) });
    const client = this.#client;
    // One connection answers in order, so replies to other calls prove that a pending one is only
    // queued. A Cluster has a connection per node: its siblings answering says nothing about a
    // hung node, so there a call waits the timeout of on-time loop, and the circuit opens only
    // when no node answered for several timeouts.
    const timeoutMs = redis.timeout_ms;
    const answeringMs = client.isCluster ? timeoutMs * 4 : timeoutMs;
    this.#deadlines = new Deadlines({
      timeoutMs,
      maxWaitMs: client.isCluster ? timeoutMs : undefined,
      timeoutError: () => new RedisTimeout(`redis did not answer within ${timeoutMs} ms`),
    });
    this.#circuit = new Circuit({
      failures: redis.circuit.failures,
      probeMs: redis.circuit.probe_ms,
      connected: () => client.status === 'ready',
      probe: () => this.ready(),
      answering: () => this.#deadlines.answeredWithin(answeringMs),
      onChange: (to, from, cause) => this.#circuitChanged(to, from, cause),
    });
    // A closed connection answers nothing more: its pending calls fail now, not at their deadline.
    client.on('close', () => {
      this.#circuit.open('connection closed');
      this.#deadlines.failAll(new RedisDisconnected('redis connection closed'));
    });
    client.on('ready', () => this.#circuit.probeNow());
    this.#fallback = new MemoryTokens(compiled);
    this.#denyCache = new DenyCache(compiled.config.memory_max_entries, redis.deny_cache && compiled.policy.afterViolations === 0);
    const lf = compiled.config.load_factor;
    this.#loadFactor =
      lf === undefined ? undefined : new LoadFactor(this.#client, { key: lf.key, refreshMs: lf.refresh_ms, min: lf.min });
    this.#staticArgs = staticScriptArgs(compiled, options.ttlPadMs ?? 1_000);
    // A Cluster keeps one script per check: a script's keys must share a slot, and two subjects' don't.
    this.#batcher =
      redis.batch && !client.isCluster ? new ScriptBatcher(client as Redis, { staticArgs: this.#staticArgs, onBatch: options.onBatch }) : undefined;
    this.settler =
      compiled.budgets === undefined
        ? undefined
        : new RedisSettler(client, redis.key_prefix, new MemorySettler(this.#fallback.ledger, redis.key_prefix), options.events);
    options.logger?.info({ redis: redactUrl(redis.url) }, 'rate limiter using redis');
  }

  /** The current load factor (1 when none is configured). */
  get scale(): number {
    return this.#loadFactor?.value ?? 1;
  }

  async take(request: LimitRequest): Promise<LimitOutcome> {
    const plan = this.compiled.plan(request);
    const admission = plan.admission;
    if (admission !== undefined && isEstimateProblem(admission)) return problemOutcome(admission);
    if (plan.charges.length === 0 && admission === undefined) return ALLOWED_NOTHING;
    const headers = this.compiled.config.headers;
    const scale = this.scale;
    const cached = this.#denyCache.lookup(plan, request.now);
    if (cached !== undefined) return toOutcome(cached.result, cached.charges, { headers, scale, extra: { ratelimit_cached: 1 } });
    if (!this.#circuit.allows()) return this.#failMode(plan, request, CIRCUIT_OPEN);
    let result: TakeResult;
    const started = performance.now();
    try {
      result = await this.#deadlines.race(this.#run(plan, request.now, scale));
    } catch (error) {
      this.options.onCall?.('error', (performance.now() - started) / 1000);
      const cls = redisFailureKind(error);
      this.#circuit.failed(cls);
      this.#logError(error);
      return this.#failMode(plan, request, cls);
    }
    this.#circuit.succeeded();
    this.options.onCall?.('ok', (performance.now() - started) / 1000);
    // Only bucket denials and blocks are remembered: a budget refusal (status refused) never is.
    this.#denyCache.remember(plan, result, request.now, scale);
    if (admission !== undefined) return admissionOutcome(result, plan.charges, admission, { headers, scale }, this.options.events);
    return toOutcome(result, plan.charges, { headers, scale });
  }

  #run(plan: Plan, nowMs: number, scale: number): Promise<TakeResult> {
    const at = this.#requestClock ? nowMs : undefined;
    // Checks with budgets or leases skip the batcher: each is its own admission script call.
    const admission = plan.admission;
    if (admission !== undefined && !isEstimateProblem(admission)) return runAdmitScript(this.#client, plan, admission, { nowMs: at, scale, staticArgs: this.#staticArgs });
    if (this.#batcher !== undefined) return this.#batcher.take(plan, at, scale);
    return runTakeScript(this.#client, plan, { nowMs: at, scale, staticArgs: this.#staticArgs });
  }

  /** Redis failed, was slow or is known down: fail closed if any enforced limit says so, else charge locally. */
  #failMode(plan: Plan, request: LimitRequest, cls: string): LimitOutcome {
    if (failsClosed(plan)) {
      this.failures.failedClosed++;
      let outcome = this.#unavailable.get(cls);
      if (outcome === undefined) {
        outcome = Object.freeze({ allowed: false, reason: 'limiter_unavailable', responseHeaders: [], metadata: { ratelimit_error: cls }, shadowDenied: [] });
        this.#unavailable.set(cls, outcome);
      }
      return outcome;
    }
    this.failures.fallbackOpen++;
    const taken = this.#fallback.take(plan, request.now, this.scale);
    return memoryOutcome(taken, plan, { headers: this.compiled.config.headers, scale: this.scale, extra: { ratelimit_fallback: 'local' } }, this.options.events);
  }

  #circuitChanged(to: CircuitState, from: CircuitState, cause: string): void {
    const logger = this.options.logger;
    if (to === 'open') {
      const probeMs = this.compiled.config.redis.circuit.probe_ms;
      logger?.warn({ circuit: to, from, cause }, `rate limiter circuit open: each limit applies its on_redis_error without waiting for Redis; probing every ${probeMs} ms`);
    } else if (to === 'half_open') {
      logger?.info({ circuit: to, from, cause }, 'rate limiter circuit half-open: Redis answered a probe, checks go to Redis again');
    } else {
      logger?.info({ circuit: to, from, cause }, 'rate limiter circuit closed: Redis is answering checks');
    }
    this.options.onCircuit?.(to);
  }

  #logError(error: unknown): void {
    const now = Date.now();
    if (now - this.#lastErrorLog < ERROR_LOG_EVERY_MS) return;
    this.#lastErrorLog = now;
    this.options.logger?.warn({ err: error, errorClass: redisFailureKind(error) }, 'rate limiter: redis unavailable, applying each limit’s on_redis_error');
  }

  async ready(): Promise<boolean> {
    try {
      return (await bounded(this.#client.ping(), Math.max(this.#timeoutMs, 200))) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Deletes every bucket and block of one subject; used by `modelgate limits reset`. */
  async reset(subject: string): Promise<number> {
    this.#denyCache.clear();
    this.#fallback.reset(subject);
    const { resetSubject } = await import('./inspect.js');
    return resetSubject(this.#client, this.compiled.config.redis.key_prefix, subject);
  }

  get client(): LimiterClient {
    return this.#client;
  }

  /** The circuit's state, for readiness and tests. */
  get circuit(): CircuitState {
    return this.#circuit.state;
  }

  async close(): Promise<void> {
    this.#circuit.stop();
    this.#loadFactor?.stop();
    this.#denyCache.clear();
    this.#fallback.clear();
    try {
      await bounded(this.#client.quit(), 1_000);
    } catch {
      this.#client.disconnect();
    }
  }
}

/** Whether a limit, budget or lease that is enforced (not shadow) says fail_closed. */
function failsClosed(plan: Plan): boolean {
  for (const c of plan.charges) if (!c.shadow && c.failMode === 'fail_closed') return true;
  const a = plan.admission;
  if (a === undefined || isEstimateProblem(a)) return false;
  for (const l of a.lines) if (!l.shadow && l.failMode === 'fail_closed') return true;
  for (const l of a.leases) if (!l.shadow && l.failMode === 'fail_closed') return true;
  return false;
}

/**
 * The kind of Redis failure (timeout, disconnected, redis_error): the `ratelimit_error` metadata
 * value and the circuit's cause. Not an error's class name (that is metrics.ts `errorClass`).
 */
function redisFailureKind(error: unknown): string {
  if (error instanceof RedisTimeout) return 'timeout';
  if (error instanceof RedisDisconnected) return 'disconnected';
  const message = error instanceof Error ? error.message : '';
  if (/timed out/i.test(message)) return 'timeout';
  if (/writeable|isn't ready|connection|ECONN|closed/i.test(message)) return 'disconnected';
  return 'redis_error';
}
