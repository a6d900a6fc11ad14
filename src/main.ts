// Composition root: config → adapters → pipeline → servers. The only module that chooses adapters.

import type { Logger } from 'pino';
import { loadConfigWithHash, referencedFiles } from './admin/config-source.js';
import { addReflection } from './admin/reflection.js';
import { addAccessLogService } from './audit/als-receiver.js';
import { openAuditRuntime, type AuditRuntime } from './audit/runtime.js';
import { effectiveAdminAddress, registryMetrics, startAdminServer, type AdminServerHandle, type Readiness } from './admin/server.js';
import { watchFiles } from './admin/watch.js';
import { buildStages } from './app/build-stages.js';
import type { LoadedConfig } from './config/load.js';
import { ConfigError } from './config/problems.js';
import { decisionLog } from './decision/decision-log.js';
import { startGrpcServer, type GrpcServerHandle } from './grpc/server.js';
import { startHttpAuthzServer, type HttpAuthzServerHandle } from './http/authz-server.js';
import { createLogger } from './log/logger.js';
import { createMetrics, type ModelgateMetrics } from './metrics/metrics.js';
import { createAuthorizer, type Authorizer, type StagesRef } from './pipeline/authorizer.js';
import { unlimited, type Limiter } from './ratelimit/limiter.js';
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
  /** Watch the config and the files it references, reloading on change (default true). */
  readonly watch?: boolean;
}

export type ReloadResult = { ok: true } | { ok: false; problems: readonly string[] };

export interface Modelgate {
  readonly grpcPort: number;
  /** The HTTP authorization port; undefined unless server.http.enabled. */
  readonly httpPort: number | undefined;
  /** The admin (metrics, health) port; undefined unless server.admin.enabled and `admin` is not false. */
  readonly adminPort: number | undefined;
  readonly logger: Logger;
  readonly metrics: ModelgateMetrics;
  readonly authorize: Authorizer;
  readonly loaded: () => LoadedConfig;
  /** What /readyz answers for this instance; never rejects. */
  ready(): Promise<Readiness>;
  /** Re-read and swap the config; a broken file keeps the old one serving and returns its problems. Serialized. */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

export async function startModelgate(options: StartOptions): Promise<Modelgate> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  let source = loadConfigWithHash(options.configFile, env);
  let loaded = source.loaded;
  const metrics = createMetrics();
  const logger = options.logger ?? createLogger({ level: loaded.config.log.level, redactHeaders: loaded.config.log.redact_headers });
  // Built once: limits and their Redis connection outlive policy reloads.
  const limiter: Limiter = loaded.config.limits ? createLimiter(loaded.config.limits, { logger, now, onRedisCall: metrics.redisCall }) : unlimited;
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

  const authorize = createAuthorizer(stages, {
    log: decisionLog(logger, loaded.config.log.decisions, { trace: true }),
    observe: metrics.observeCheck,
    onError: (error, decisionId) => {
      metrics.internalError(error);
      logger.error({ err: error, decision_id: decisionId }, 'check failed internally; answered with the error deny');
    },
  });

  const serverConfig = options.grpcAddress
    ? { ...loaded.config.server, grpc: { ...loaded.config.server.grpc, address: options.grpcAddress } }
    : loaded.config.server;
  // Envoy's http_grpc access logger points at the Check port, so the audit receiver lives there too.
  const audit = loaded.config.audit ? await openAudit(loaded, logger) : undefined;
  const grpc: GrpcServerHandle = await startGrpcServer({
    config: serverConfig,
    baseDir: loaded.baseDir,
    authorize,
    onAbandoned: (input) =>
      logger.warn({ request_id: input?.requestId || undefined }, 'check not evaluated: Envoy had reset it (its ext_authz timeout passed)'),
    extend: (server) => {
      addReflection(server);
      if (audit) addAccessLogService(server, { sink: audit.store, privacy: audit.privacy });
    },
  }).catch(async (error: unknown) => {
    await audit?.close();
    throw error;
  });
  logger.info({ port: grpc.port, config: loaded.file }, 'modelgate serving ext_authz');
  const http: HttpAuthzServerHandle | undefined = serverConfig.http.enabled
    ? await startHttpAuthzServer({ config: serverConfig, authorize, identityHeaders: () => Object.values(loaded.config.answer.upstream_headers) }).catch(
        async (error: unknown) => {
          await grpc.shutdown(0); // do not leave the gRPC port open behind a failed start
          throw error;
        },
      )
    : undefined;
  if (http) logger.info({ port: http.port }, 'modelgate serving HTTP authorization');

  let closing = false;
  const ready = async (): Promise<Readiness> => {
    if (closing) return { ready: false, detail: 'shutting down' };
    const limiterReady = await limiter.ready().catch(() => false);
    return limiterReady ? { ready: true, detail: `ready: policy sha256 ${source.sha256}` } : { ready: false, detail: 'limiter not ready' };
  };
  const admin: AdminServerHandle | undefined = serverConfig.admin.enabled && options.admin !== false
    ? await startAdminServer({
        address: effectiveAdminAddress({
          configured: serverConfig.admin.address,
          source: loaded.sources.get('server.admin.address'),
          grpcAddress: serverConfig.grpc.address,
          override: options.adminAddress,
        }),
        metrics: registryMetrics(metrics.registry),
        ready,
      }).catch(async (error: unknown) => {
        await Promise.all([grpc.shutdown(0), http?.shutdown(0)]);
        throw error;
      })
    : undefined;
  if (admin) logger.info({ port: admin.port }, 'modelgate serving metrics and health');

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

  return {
    grpcPort: grpc.port,
    httpPort: http?.port,
    adminPort: admin?.port,
    logger,
    metrics,
    authorize,
    loaded: () => loaded,
    ready,
    reload,
    async close() {
      closing = true;
      watcher?.close();
      const graceMs = loaded.config.server.shutdown_grace_seconds * 1000;
      await Promise.all([grpc.shutdown(graceMs), http?.shutdown(graceMs)]);
      await admin?.close();
      await limiter.close();
      await audit?.close();
      logger.flush();
    },
  };
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

async function openAudit(loaded: LoadedConfig, logger: Logger): Promise<AuditRuntime> {
  const opened = await openAuditRuntime(loaded.config.audit!, logger);
  if (!opened.ok) throw new ConfigError(loaded.file, [`${loaded.file}: audit: ${opened.error}`]);
  return opened.runtime;
}
