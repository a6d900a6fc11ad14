// Composition root: config → adapters → pipeline → servers. The only module that chooses adapters.

import type { Logger } from 'pino';
import { addReflection } from './grpc/reflection.js';
import { addExtProcService } from './extproc/service.js';
import { usageCost } from './budget/prices.js';
import { extProcMetrics } from './extproc/metrics.js';
import type { Settler } from './extproc/settler.js';
import type { TransformerFactory } from './extproc/transform.js';
import { maskingTransformers } from './guardrails/mask/compile.js';
import { startAuditReceiver } from './audit/receiver-server.js';
import { receiverMonitor } from './audit/receiver-monitor.js';
import { meteredSink } from './audit/metered-sink.js';
import { releasingSink } from './budget/release-sink.js';
import type { AuditSink } from './audit/sink.js';
import { effectiveAdminAddress, registryMetrics, startAdminServer, type AdminServerHandle, type Readiness } from './admin/server.js';
import { readinessMonitor, type ServingPhase } from './admin/readiness.js';
import type { BuildOptions } from './app/build-stages.js';
import { Closers } from './app/closers.js';
import { plaintextExposures } from './app/exposure.js';
import { internalErrorReporter } from './app/internal-errors.js';
import { listening } from './app/listen-error.js';
import { checkedStages, loadStages, readConfig } from './app/load-stages.js';
import { openAudit } from './app/open-audit.js';
import { openApprovalStage, startApprovals } from './approvals/open.js';
import { failClosedBuckets, openLimiter } from './app/open-limiter.js';
import { reloader, type ReloadResult } from './app/reload.js';
import { restartOnlyChanges } from './app/restart-only.js';
import { withTracing } from './app/tracing.js';
import type { LoadedConfig } from './config/load.js';
import { ConfigError } from './config/problems.js';
import { referencedFiles, watchFiles } from './config/watch.js';
import { decisionLog } from './decision/decision-log.js';
import { startGrpcServer, type GrpcServerHandle } from './grpc/server.js';
import { startHttpAuthzServer, type HttpAuthzServerHandle } from './http/authz-server.js';
import { createLogger } from './log/logger.js';
import { createMetrics, type ModelgateMetrics } from './metrics/metrics.js';
import type { Authorizer } from './check/authorizer-port.js';
import { createAuthorizer, type StagesRef } from './pipeline/authorizer.js';

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
  /** Overrides approvals.listen. */
  readonly approvalsAddress?: string;
  /** Overrides of the ext_proc service's adapters (tests, embedding): the budget Settler and body transformers. */
  readonly extProc?: { readonly settler?: Settler; readonly transformers?: TransformerFactory };
}

export type { ReloadResult } from './app/reload.js';

export interface Modelgate {
  readonly grpcPort: number;
  /** The access-log receiver's port (audit.receiver.listen); undefined without an audit section. */
  readonly auditPort: number | undefined;
  /** The HTTP authorization port; undefined unless server.http.enabled. */
  readonly httpPort: number | undefined;
  /** The admin (metrics, health) port; undefined unless server.admin.enabled and `admin` is not false. */
  readonly adminPort: number | undefined;
  /** The approvers' endpoint port (approvals.listen); undefined without an approvals section. */
  readonly approvalsPort: number | undefined;
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
  const read = readConfig(options.configFile, env);
  if (!read.ok) throw read.error;
  let loaded = read.loaded;
  const metrics = createMetrics();
  const logger = options.logger ?? createLogger({ level: loaded.config.log.level, redactHeaders: loaded.config.log.redact_headers });
  // Every resource goes on this stack as soon as it is open; a failed start and close() unwind it.
  const closers = new Closers();
  const closeAll = () => closers.close((resource, error) => logger.warn({ err: error, resource }, 'could not close cleanly'));
  let phase: ServingPhase = 'starting';
  let graceMs = 0; // a failed start has nothing in flight to wait for
  let grpc: GrpcServerHandle | undefined;
  let approvalsPort: number | undefined;
  try {
    // Built once, first: limits and their Redis connection outlive policy reloads.
    const limits = loaded.config.limits;
    const limiter = await openLimiter(limits, { logger, metrics, closers, budgets: loaded.config.budgets });
    // Grants outlive reloads too; events reach the audit store opened further down.
    const approvals = await openApprovalStage(loaded.config.approvals, { logger, closers, audit: () => audit?.store });

    const buildOptions: BuildOptions = {
      env,
      now,
      limiter,
      approvals,
      onTokenCache: metrics.tokenCache,
      onJwksFetch: (issuer, outcome, detail) => {
        metrics.jwksFetch(issuer, outcome);
        if (outcome === 'error') logger.warn({ issuer, detail }, 'JWKS fetch failed; cached keys keep serving');
        else logger.debug({ issuer }, 'JWKS fetched');
      },
    };
    const first = checkedStages(loaded, buildOptions);
    if (!first.ok) throw first.error;
    const warming = first.warm();
    const stages: StagesRef = { current: first.stages };
    metrics.setPolicy(loaded.config, loaded.sha256);

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
    const audit = loaded.config.audit ? await openAudit(loaded, logger, options.auditSink, env) : undefined;
    if (audit) closers.push('audit store', () => audit.close());
    // Dropped access-log entries are counted and warned about at a bounded rate, never per entry.
    const alsMonitor = audit ? receiverMonitor({ log: logger, registry: metrics.registry }) : undefined;

    let readinessState = 'ready';
    const readiness = readinessMonitor({
      limiter,
      failClosedBuckets: failClosedBuckets(limits, loaded.config.budgets),
      phase: () => phase,
      serving: () => `policy sha256 ${loaded.sha256}`,
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

    // Approvers act on their own listener (mTLS or JWT), never the metrics or Check port. With
    // --workers N every worker binds it (the cluster shares the port): grants must then be in Redis.
    const approvalsConfig = loaded.config.approvals;
    if (approvals && approvalsConfig) {
      const server = await listening(
        'approvals',
        options.approvalsAddress ?? approvalsConfig.listen,
        startApprovals({ stage: approvals, config: approvalsConfig, address: options.approvalsAddress, baseDir: loaded.baseDir, current: () => ({ config: loaded.config, identity: stages.current.identity }), logger, now }),
      );
      closers.push('approvals server', () => server.close());
      approvalsPort = server.port;
      if (!approvalsConfig.redis && options.admin === false) logger.warn('approvals without approvals.redis: each worker keeps its own grants');
      logger.info({ port: server.port, tls: approvalsConfig.tls !== undefined }, 'modelgate serving the approvals endpoint');
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
            startAuditReceiver(receiverConfig, { sink: releasingSink(meteredSink(audit.store, { registry: metrics.registry }), limiter.settler, now), privacy: audit.privacy, onEvent: alsMonitor!.onEvent }),
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
        extend: (server) => {
          addReflection(server);
          // The response path (ext_proc) on the same port and mTLS hop as Check.
          addExtProcService(server, {
            config: () => loaded.config.ext_proc,
            settler: options.extProc?.settler ?? limiter.settler,
            transformers: options.extProc?.transformers ?? maskingTransformers(() => loaded.config.guardrails?.masking),
            cost: usageCost(() => loaded.config.budgets?.prices),
            metrics: extProcMetrics(metrics.registry),
            logger,
            now,
          });
        },
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
    // Once more, shortly after serving begins and the startup fetch has settled: that fetch left while
    // the process was still loading, and a tight jwks_timeout_ms can expire before its answer is read.
    // warm() fetches only for issuers still without keys.
    const rewarm = setTimeout(() => void warming.then(() => (stages.current === first.stages ? first.warm() : undefined)), 100);
    rewarm.unref();
    closers.push('JWKS re-warm', () => clearTimeout(rewarm));
    closers.push('readiness monitor', () => readiness.stop());
    await readiness.start();

    const reload = reloader({
      configFile: options.configFile,
      load: () => loadStages(options.configFile, buildOptions),
      apply: (next) => {
        // Said before "config reloaded", so an operator who lowered a budget is not left believing it applies.
        const waiting = restartOnlyChanges(loaded.config, next.loaded.config);
        if (waiting.length > 0) logger.warn({ sections: waiting }, `config reloaded without ${waiting.join(', ')}: changes there take effect on restart`);
        // One assignment: a check in flight keeps the stages it started with, the next one gets these.
        stages.current = next.stages;
        loaded = next.loaded;
        metrics.setPolicy(loaded.config, loaded.sha256);
        if (!options.logger) logger.level = loaded.config.log.level;
        watcher?.refresh();
      },
      metrics,
      logger,
    });

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
      approvalsPort,
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
