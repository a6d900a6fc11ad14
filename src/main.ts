// Composition root: config → adapters → pipeline → servers. The only module that chooses adapters.

import type { Logger } from 'pino';
import { buildStages } from './app/build-stages.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { ConfigError } from './config/problems.js';
import { decisionLog } from './decision/decision-log.js';
import { startGrpcServer, type GrpcServerHandle } from './grpc/server.js';
import { createLogger } from './log/logger.js';
import { createAuthorizer, type Authorizer, type StagesRef } from './pipeline/authorizer.js';
import { unlimited, type Limiter } from './ratelimit/limiter.js';

export interface StartOptions {
  readonly configFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Overrides server.grpc.address (the --address flag). */
  readonly grpcAddress?: string;
  readonly logger?: Logger;
  readonly now?: () => number;
}

export interface Modelgate {
  readonly grpcPort: number;
  readonly logger: Logger;
  readonly authorize: Authorizer;
  readonly loaded: () => LoadedConfig;
  /** Re-read and swap the config; a broken file keeps the old one serving and returns its problems. */
  reload(): Promise<{ ok: true } | { ok: false; problems: readonly string[] }>;
  close(): Promise<void>;
}

export async function startModelgate(options: StartOptions): Promise<Modelgate> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  let loaded = loadConfig(options.configFile, env);
  const logger = options.logger ?? createLogger({ level: loaded.config.log.level, redactHeaders: loaded.config.log.redact_headers });
  const limiter: Limiter = unlimited;

  const build = (cfg: LoadedConfig) => {
    const built = buildStages(cfg, {
      env,
      now,
      limiter,
      onJwksFetch: (issuer, outcome, detail) =>
        outcome === 'error' ? logger.warn({ issuer, detail }, 'JWKS fetch failed; cached keys keep serving') : logger.debug({ issuer }, 'JWKS fetched'),
    });
    if (!built.ok) throw new ConfigError(cfg.file, built.problems.map(cfg.describe));
    return built;
  };
  const first = build(loaded);
  void first.warm();
  const stages: StagesRef = { current: first.stages };

  const authorize = createAuthorizer(stages, {
    log: decisionLog(logger, loaded.config.log.decisions),
    onError: (error) => logger.error({ err: error }, 'check failed internally; answered with the error deny'),
  });

  const serverConfig = options.grpcAddress
    ? { ...loaded.config.server, grpc: { ...loaded.config.server.grpc, address: options.grpcAddress } }
    : loaded.config.server;
  const grpc: GrpcServerHandle = await startGrpcServer({ config: serverConfig, baseDir: loaded.baseDir, authorize });
  logger.info({ port: grpc.port, config: loaded.file }, 'modelgate serving ext_authz');

  return {
    grpcPort: grpc.port,
    logger,
    authorize,
    loaded: () => loaded,
    async reload() {
      try {
        const next = loadConfig(options.configFile, env);
        const built = build(next);
        await built.warm();
        stages.current = built.stages;
        loaded = next;
        logger.info({ config: next.file }, 'config reloaded');
        return { ok: true };
      } catch (error) {
        const problems = error instanceof ConfigError ? error.lines : [String(error)];
        logger.error({ problems }, 'config reload failed; previous config keeps serving');
        return { ok: false, problems };
      }
    },
    async close() {
      await grpc.shutdown(loaded.config.server.shutdown_grace_seconds * 1000);
      await limiter.close();
      logger.flush();
    },
  };
}
