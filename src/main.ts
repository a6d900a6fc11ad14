// Composition root: config → adapters → pipeline → servers. The only module that chooses adapters.

import type { Logger } from 'pino';
import { loadConfigWithHash, referencedFiles } from './admin/config-source.js';
import { addReflection } from './admin/reflection.js';
import { startAuditReceiver } from './audit/receiver-server.js';
import { receiverMonitor } from './audit/receiver-monitor.js';
import { meteredSink } from './audit/metered-sink.js';
import { loadPrivacy, type Privacy } from './audit/privacy.js';
import { openAuditRuntime } from './audit/runtime.js';
import type { AuditSink } from './audit/sink.js';
import { effectiveAdminAddress, registryMetrics, startAdminServer, type AdminServerHandle, type Readiness } from './admin/server.js';
import { readinessMonitor, type ServingPhase } from './admin/readiness.js';
import { watchFiles } from './admin/watch.js';
import { buildStages } from './app/build-stages.js';
import { Closers } from './app/closers.js';
import { listening } from './app/listen-error.js';
import { plaintextExposures } from './app/exposure.js';
import type { LoadedConfig } from './config/load.js';
import { ConfigError } from './config/problems.js';
import { decisionLog, type DecisionLog } from './decision/decision-log.js';
import { startGrpcServer, type GrpcServerHandle } from './grpc/server.js';
import { startHttpAuthzServer, type HttpAuthzServerHandle } from './http/authz-server.js';
import { createLogger } from './log/logger.js';
import { tracingSettings } from './tracing/settings.js';
import { createMetrics, type ModelgateMetrics } from './metrics/metrics.js';
import { createAuthorizer, type Authorizer, type FailurePhase, type OnInternalError, type StagesRef } from './pipeline/authorizer.js';
import { unlimited, type Limiter } from './ratelimit/limiter.js';
import type { LimitsConfig } from './ratelimit/config.js';
import { createLimiter } from './ratelimit/create-limiter.js';

export interface StartOptions {
  readonly configFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Overrides server.grpc.address (the --address flag). */
  readonly grpcAddress?: string;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Overrides server.admin.address. */
  readonly adminAddress?: string;
  /** Start the admin server when server.admin.enabled (default true); cluster workers leave it to the primary. */
  readonly admin?: boolean;
  /**
   * Where received access-log records go instead of opening `audit.store` here: the cluster
   * primary's store (audit/ipc-sink.ts), since a store has exactly one writer.
   */
  readonly auditSink?: AuditSink;
  /** Watch the config and the files it references, reloading on change (default true). */
  readonly watch?: boolean;
}

export type ReloadResult = { ok: true } | { ok: false; problems: readonly string[] };

export interface Modelgate {
  readonly grpcPort: number;
  /** The access-log receiver's port (audit.receiver.listen); undefined without an audit section. */
  readonly auditPort: number | undefined;
  /** The HTTP authorization port; undefined unless server.http.enabled. */
  readonly httpPort: number | undefined;
  /** The admin (metrics, health) port; undefined unless server.admin.enabled and `admin` is not false. */
  readonly adminPort: number | undefined;
  readonly logger: Logger;
  readonly metrics: ModelgateMetrics;
  readonly authorize: Authorizer;
  readonly loaded: () => LoadedConfig;
  /** What /readyz and gRPC health answer for this instance (see admin/readiness.ts); never rejects. */
  ready(): Promise<Readiness>;
  /** Re-read and swap the config; a broken file keeps the old one serving and returns its problems. Serialized. */
  reload(): Promise<ReloadResult>;
  /** Drains the check servers for up to shutdown_grace_seconds, then closes everything it opened. */
  close(): Promise<void>;
}

export async function startModelgate(options: StartOptions): Promise<Modelgate> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  let source = loadConfigWithHash(options.configFile, env);
  let loaded = source.loaded;
  const metrics = createMetrics();
  const logger = options.logger ?? createLogger({ level: loaded.config.log.level, redactHeaders: loaded.config.log.redact_headers });
  // Every resource goes on this stack as soon as it is open; a failed start and close() unwind it.
  const closers = new Closers();
  const closeAll = () => closers.close((resource, error) => logger.warn({ err: error, resource }, 'could not close cleanly'));
  let phase: ServingPhase = 'starting';
  let graceMs = 0; // a failed start has nothing in flight to wait for
  let grpc: GrpcServerHandle | undefined;
  try {
    // Built once: limits and their Redis connection outlive policy reloads.
    const limits = loaded.config.limits;
    const limiter: Limiter = limits ? createLimiter(limits, { logger, now, onRedisCall: metrics.redisCall, onRedisCircuit: metrics.redisCircuit }) : unlimited;
    closers.push('rate limiter', () => limiter.close());
    if (!(await waitUntilReady(limiter, 5_000))) {
      logger.warn('rate limiter backend not reachable at start; each limit applies its on_redis_error mode until it is');
    }

    const build = (cfg: LoadedConfig) => {
      const built = buildStages(cfg, {
        env,
        now,
        limiter,
        onTokenCache: metrics.tokenCache,
        onJwksFetch: (issuer, outcome, detail) => {
          metrics.jwksFetch(issuer, outcome);
          if (outcome === 'error') logger.warn({ issuer, detail }, 'JWKS fetch failed; cached keys keep serving');
          else logger.debug({ issuer }, 'JWKS fetched');
        },
      });
      if (!built.ok) throw new ConfigError(cfg.file, built.problems.map(cfg.describe));
      return built;
    };
    const first = build(loaded);
    void first.warm();
    const stages: StagesRef = { current: first.stages };
    metrics.setPolicy(loaded.config, source.sha256);

    const onError = internalErrorReporter(metrics, logger);
    const authorize = createAuthorizer(stages, {
      log: await withTracing(decisionLog(logger, loaded.config.log.decisions, { trace: true }), env, logger, closers),
      observe: metrics.observeCheck,
      onError,
    });

    const serverConfig = options.grpcAddress
      ? { ...loaded.config.server, grpc: { ...loaded.config.server.grpc, address: options.grpcAddress } }
      : loaded.config.server;
    // The audit receiver has its own listener (audit.receiver.listen), never the Check port: who may
    // write into the trail is decided there (loopback, or mTLS with allowed_sans).
    const audit = loaded.config.audit ? await openAudit(loaded, logger, options.auditSink) : undefined;
    if (audit) closers.push('audit store', () => audit.close());
    // Dropped access-log entries are counted and warned about at a bounded rate, never per entry.
    const alsMonitor = audit ? receiverMonitor({ log: logger, registry: metrics.registry }) : undefined;

    let readinessState = 'ready';
    const readiness = readinessMonitor({
      limiter,
      failClosedBuckets: failClosedBuckets(limits),
      phase: () => phase,
      serving: () => `policy sha256 ${source.sha256}`,
      onVerdict: (verdict) => {
        grpc?.setServing(verdict.ready);
        metrics.setReadiness(verdict.ready, verdict.degraded === true);
        // One line per change while serving, never one per probe.
        const state = verdict.ready ? (verdict.degraded ? 'degraded' : 'ready') : 'not_ready';
        if (phase !== 'serving' || state === readinessState) return;
        readinessState = state;
        logger[state === 'ready' ? 'info' : 'warn']({ readiness: state, detail: verdict.detail }, 'readiness changed');
      },
    });

    // First among the listeners: /readyz says "starting" until the check ports serve.
    const adminAddress = effectiveAdminAddress({
      configured: serverConfig.admin.address,
      source: loaded.sources.get('server.admin.address'),
      grpcAddress: serverConfig.grpc.address,
      override: options.adminAddress,
    });
    const admin: AdminServerHandle | undefined =
      serverConfig.admin.enabled && options.admin !== false
        ? await listening('admin', adminAddress, startAdminServer({ address: adminAddress, metrics: registryMetrics(metrics.registry), ready: readiness.check }))
        : undefined;
    if (admin) {
      closers.push('admin server', () => admin.close());
      logger.info({ port: admin.port }, 'modelgate serving metrics and health');
    }

    // Before the check ports, so a bad receiver setting fails the start before anything serves.
    // With --workers N every worker binds it and the cluster shares the port, as for the Check port;
    // records still reach the one store through the primary (options.auditSink).
    const receiverConfig = loaded.config.audit?.receiver;
    const receiver =
      audit && receiverConfig
        ? await listening(
            'audit receiver',
            receiverConfig.listen,
            startAuditReceiver(receiverConfig, { sink: meteredSink(audit.store, { registry: metrics.registry }), privacy: audit.privacy, onEvent: alsMonitor!.onEvent }),
          )
        : undefined;
    if (receiver && !receiver.ok) throw new ConfigError(loaded.file, [`${loaded.file}: ${receiver.error}`]);
    if (receiver?.ok) {
      const server = receiver.server;
      closers.push('audit receiver', () => server.close(graceMs));
      logger.info({ port: server.port, tls: receiverConfig!.tls !== undefined }, 'modelgate serving the audit receiver');
    }

    // Both check servers drain together on close, each for up to the grace period.
    const checkServers: Array<{ shutdown(graceMs: number): Promise<void> }> = [];
    closers.push('check servers', () => Promise.all(checkServers.map((server) => server.shutdown(graceMs))));
    grpc = await listening(
      'gRPC',
      serverConfig.grpc.address,
      startGrpcServer({
        config: serverConfig,
        baseDir: loaded.baseDir,
        authorize,
        onError,
        onAbandoned: (input) =>
          logger.warn({ request_id: input?.requestId || undefined }, 'check not evaluated: Envoy had reset it (its ext_authz timeout passed)'),
        extend: (server) => addReflection(server),
      }),
    );
    checkServers.push(grpc);
    logger.info({ port: grpc.port, config: loaded.file }, 'modelgate serving ext_authz');
    const http: HttpAuthzServerHandle | undefined = serverConfig.http.enabled
      ? await listening(
          'HTTP authorization',
          serverConfig.http.address,
          startHttpAuthzServer({ config: serverConfig, authorize, onError, identityHeaders: () => Object.values(loaded.config.answer.upstream_headers) }),
        )
      : undefined;
    if (http) {
      checkServers.push(http);
      logger.info({ port: http.port }, 'modelgate serving HTTP authorization');
    }

    // Loud on purpose: an exposed plaintext Check port lets any caller claim any principal.
    for (const exposed of plaintextExposures(serverConfig)) {
      if (exposed.acknowledged) logger.info({ listener: exposed.key, address: exposed.address }, exposed.message);
      else logger.warn({ listener: exposed.key, address: exposed.address, security: 'exposed_check_port' }, `SECURITY WARNING: ${exposed.message}`);
    }

    phase = 'serving';
    closers.push('readiness monitor', () => readiness.stop());
    await readiness.start();

    const reloadNow = async (): Promise<ReloadResult> => {
      try {
        const next = loadConfigWithHash(options.configFile, env);
        const built = build(next.loaded);
        await built.warm();
        // One assignment: a check in flight keeps the stages it started with, the next one gets these.
        stages.current = built.stages;
        source = next;
        loaded = next.loaded;
        metrics.setPolicy(loaded.config, next.sha256);
        metrics.reload('success');
        if (!options.logger) logger.level = loaded.config.log.level;
        watcher?.refresh();
        logger.info({ config: loaded.file, sha256: next.sha256 }, 'config reloaded');
        return { ok: true };
      } catch (error) {
        const problems = error instanceof ConfigError ? error.lines : [String(error)];
        metrics.reload('failure');
        for (const problem of problems) logger.error({ config: options.configFile, problem }, 'config problem');
        logger.error({ config: options.configFile, problems: problems.length }, 'config reload failed; previous config keeps serving');
        return { ok: false, problems };
      }
    };
    // Reloads run one at a time, in order, so an older file can never be swapped in after a newer one.
    let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true });
    const reload = (): Promise<ReloadResult> => (reloading = reloading.then(reloadNow, reloadNow));

    const watcher =
      options.watch === false
        ? undefined
        : watchFiles({
            files: () => referencedFiles(options.configFile, loaded),
            onChange: (changed) => {
              logger.info({ files: changed }, 'config files changed; reloading');
              void reload();
            },
            onError: (dir, error) => logger.warn({ dir, err: error }, 'cannot watch directory; SIGHUP still reloads'),
          });
    if (watcher) closers.push('config watcher', () => watcher.close());

    return {
      grpcPort: grpc.port,
      auditPort: receiver?.ok ? receiver.server.port : undefined,
      httpPort: http?.port,
      adminPort: admin?.port,
      logger,
      metrics,
      authorize,
      loaded: () => loaded,
      ready: readiness.check,
      reload,
      async close() {
        phase = 'stopping';
        graceMs = loaded.config.server.shutdown_grace_seconds * 1000;
        await closeAll();
        logger.flush();
      },
    };
  } catch (error) {
    phase = 'stopping';
    await closeAll();
    logger.flush();
    throw error;
  }
}

/**
 * OpenTelemetry tracing (docs/tracing.md), off unless the OTEL_* environment turns it on. Off, the
 * SDK is never imported and the decision log is returned as it is: the check path does no tracing
 * work at all. On, every check's decision line also becomes a span.
 */
async function withTracing(log: DecisionLog, env: NodeJS.ProcessEnv, logger: Logger, closers: Closers): Promise<DecisionLog> {
  const tracing = tracingSettings(env);
  if (!tracing.ok) throw new ConfigError('environment', tracing.problems);
  if (!tracing.settings) return log;
  const { startTracing } = await import('./tracing/start.js');
  const running = await startTracing(tracing.settings, (error) => logger.warn({ err: error }, 'could not export trace spans'));
  closers.push('tracing', () => running.shutdown());
  const { protocol, url, sampler, serviceName } = tracing.settings;
  const where = new URL(url);
  where.username = where.password = ''; // an endpoint may carry credentials; the log line must not
  logger.info({ protocol, url: where.href, sampler: sampler.kind, ratio: 'ratio' in sampler ? sampler.ratio : undefined, service_name: serviceName }, 'tracing checks with OpenTelemetry');
  return running.traceChecks(log);
}

/** One reporter for every failure the authorizer and the transports catch: counted by class, logged with its phase. */
function internalErrorReporter(metrics: ModelgateMetrics, logger: Logger): OnInternalError {
  return (error, phase, decisionId) => {
    metrics.internalError(error);
    logger.error({ err: error, decision_id: decisionId, phase }, FAILURE_MESSAGES[phase]);
  };
}

const FAILURE_MESSAGES: Readonly<Record<FailurePhase, string>> = {
  check: 'check failed internally; answered with the error deny',
  answer: 'could not build the answer; answered with the transport error (gRPC INTERNAL, HTTP on_error status)',
  encode: 'could not encode the answer; answered with the transport error (gRPC INTERNAL, HTTP on_error status)',
  send: 'could not send the answer',
  log: 'the decision log failed after the answer was sent',
  observe: 'check metrics failed after the answer was sent',
  abandoned: 'reporting an abandoned check failed',
};

/** Enforced buckets that answer 503 when Redis fails; only the Redis limiter has a backend to lose. */
function failClosedBuckets(limits: LimitsConfig | undefined): string[] {
  if (limits?.redis.url === undefined) return [];
  return limits.buckets.filter((b) => !b.shadow && b.on_redis_error === 'fail_closed').map((b) => b.id);
}

/** Serving before the limiter's backend is connected would send the first checks to the fail mode. */
async function waitUntilReady(limiter: Limiter, maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    if (await limiter.ready()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface OpenedAudit {
  readonly store: AuditSink;
  readonly privacy: Privacy;
  close(): Promise<void>;
}

async function openAudit(loaded: LoadedConfig, logger: Logger, elsewhere: AuditSink | undefined): Promise<OpenedAudit> {
  if (elsewhere) {
    // The store is the primary's; this process only needs the privacy settings (the hash key).
    const privacy = await loadPrivacy(loaded.config.audit!.privacy);
    if (!privacy.ok) throw new ConfigError(loaded.file, [`${loaded.file}: audit: ${privacy.error}`]);
    return { store: elsewhere, privacy: privacy.privacy, close: async () => undefined };
  }
  const opened = await openAuditRuntime(loaded.config.audit!, logger);
  if (!opened.ok) throw new ConfigError(loaded.file, [`${loaded.file}: audit: ${opened.error}`]);
  return opened.runtime;
}
