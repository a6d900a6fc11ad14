// What "ready" means: this instance answers correctly under its configured fail modes. One verdict
// feeds /readyz, gRPC health (Envoy's cluster health check) and the metrics, so they never disagree.

import type { Limiter } from '../ratelimit/limiter.js';
import type { Readiness } from './server.js';

export type ServingPhase = 'starting' | 'serving' | 'stopping';

export interface ReadinessOptions {
  readonly limiter: Limiter;
  /**
   * Enforced (not shadow) buckets whose `on_redis_error` is fail_closed. With the backend down their
   * checks are answered 503, so the instance is not ready; with none, every check still gets its
   * configured answer (a local bucket), so it is ready, degraded.
   */
  readonly failClosedBuckets: readonly string[];
  readonly phase: () => ServingPhase;
  /** What a ready answer names (the policy hash in service). */
  readonly serving: () => string;
  /** Every verdict, with the one before it (undefined the first time): gRPC health, metrics, logs. */
  readonly onVerdict: (now: Readiness, before: Readiness | undefined) => void;
  /** How often the verdict is refreshed between /readyz requests, for gRPC health; default 1 s. */
  readonly intervalMs?: number;
}

export interface ReadinessMonitor {
  /** Probes now (sharing a probe already in flight), applies the verdict, returns it. Never rejects. */
  check(): Promise<Readiness>;
  /** Probes now and then every interval, until stop(). */
  start(): Promise<Readiness>;
  stop(): void;
}

export function readinessMonitor(options: ReadinessOptions): ReadinessMonitor {
  const intervalMs = options.intervalMs ?? 1_000;
  let inFlight: Promise<Readiness> | undefined;
  let last: Readiness | undefined;
  let timer: NodeJS.Timeout | undefined;

  const probe = async (): Promise<Readiness> => {
    const verdict = await judge(options);
    // A probe that straddled the start of shutdown must not report the instance serving again.
    const now = options.phase() === 'stopping' ? STOPPING : verdict;
    const before = last;
    last = now;
    options.onVerdict(now, before);
    return now;
  };
  const check = (): Promise<Readiness> => {
    inFlight ??= probe()
      .catch((error: unknown): Readiness => ({ ready: false, detail: `not ready: readiness probe failed: ${String(error)}` }))
      .finally(() => (inFlight = undefined));
    return inFlight;
  };
  return {
    check,
    async start() {
      const first = await check();
      timer = setInterval(() => void check(), intervalMs);
      timer.unref();
      return first;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

const STOPPING: Readiness = { ready: false, detail: 'shutting down' };

async function judge(options: ReadinessOptions): Promise<Readiness> {
  const phase = options.phase();
  if (phase === 'stopping') return STOPPING;
  if (phase === 'starting') return { ready: false, detail: 'starting' };
  const backendUp = await options.limiter.ready().catch(() => false);
  if (backendUp) return { ready: true, detail: `ready: ${options.serving()}` };
  const closed = options.failClosedBuckets;
  if (closed.length === 0) {
    return {
      ready: true,
      degraded: true,
      detail:
        'ready (degraded): rate limiter backend unreachable; every enforced limit is fail_open, so each ' +
        `process charges a local bucket until it is back: ${options.serving()}`,
    };
  }
  return {
    ready: false,
    degraded: true,
    detail:
      `not ready: rate limiter backend unreachable and fail_closed limit(s) ${closed.join(', ')} ` +
      'answer the checks they cover 503 limiter_unavailable',
  };
}
