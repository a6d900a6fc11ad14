// `modelgate serve`: runs the server until SIGTERM/SIGINT, reloads on SIGHUP; with --workers N > 1 a
// node:cluster primary runs N such processes sharing the listening ports, and serves the one admin port.

import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { effectiveAdminAddress } from '../../admin/server.js';
import type { LoadedConfig } from '../../config/load.js';

interface ServeOptions {
  config?: string;
  address?: string;
  workers?: string;
}

/** Workers that die this soon after their start are failing to start, not crashing: do not loop. */
const RESTART_BACKOFF_MS = 1_000;
/** How long the primary lets accepted connections reach a worker before stopping the workers. */
const HANDOFF_GRACE_MS = 100;

export function register(program: Command): void {
  program
    .command('serve', { isDefault: true })
    .description('serve ext_authz (without --config: the example config with generated dev keys)')
    .option('-c, --config <file>', 'config file (env MODELGATE_CONFIG)')
    .option('-a, --address <host:port>', 'gRPC listen address (env MODELGATE_GRPC_ADDRESS)')
    .option(
      '-w, --workers <n>',
      'processes sharing the ports (env MODELGATE_WORKERS; default: number of CPUs; 1 = no cluster). ' +
        'The in-memory rate limiter is per process: use limits.redis for one shared budget',
    )
    .action(async (opts: ServeOptions) => {
      const cluster = (await import('node:cluster')).default;
      if (cluster.isWorker) return serveOne(opts, true);
      const workers = workerCount(opts.workers ?? process.env.MODELGATE_WORKERS);
      if (workers === undefined) {
        process.stderr.write(`modelgate: --workers must be a whole number ≥ 1, got '${opts.workers ?? process.env.MODELGATE_WORKERS}'\n`);
        process.exit(1);
      }
      const configFile = await resolveConfigFile(opts);
      if (workers === 1) return serveOne({ ...opts, config: configFile }, false);
      return runPrimary(workers, configFile, opts.address);
    });
}

function workerCount(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return availableParallelism();
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 1024 ? n : undefined;
}

async function resolveConfigFile(opts: ServeOptions): Promise<string> {
  const configFile = opts.config ?? process.env.MODELGATE_CONFIG;
  if (configFile) return configFile;
  const dev = await import('../dev-assets.js');
  const report = await dev.ensureDevAssets();
  if (report.newApiKey) {
    process.stderr.write(
      `\nGenerated a dev API key for subject svc:reporting-bot (shown once, stored only as a hash):\n  ${report.newApiKey}\n\n`,
    );
  }
  return dev.EXAMPLE_CONFIG;
}

/**
 * One serving process: the whole single-process path, used alone (--workers 1) or as a cluster worker.
 * A worker leaves the admin port to the primary and answers its metrics and readiness requests instead.
 */
async function serveOne(opts: ServeOptions, isWorker: boolean): Promise<void> {
  const answers = isWorker ? (await import('../../admin/cluster-admin.js')).answerPrimary() : undefined;
  const { startModelgate } = await import('../../main.js');
  const { ConfigError } = await import('../../config/problems.js');
  const configFile = isWorker ? process.env.MODELGATE_CONFIG! : await resolveConfigFile(opts);
  let gate;
  try {
    gate = await startModelgate({ configFile, grpcAddress: opts.address, admin: !isWorker });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Workers share stdout: each line names its process (the logger's base carries only `service`).
  if (isWorker) gate.logger.setBindings({ pid: process.pid });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gate.logger.info({ signal }, 'shutting down: no new checks, finishing in-flight ones');
    gate.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void gate.reload());
  answers?.serving({ registry: gate.metrics.registry, ready: gate.ready });
  // The primary only learns a worker is serving from this message; until then a death is a failed start.
  if (isWorker) process.send?.({ modelgate: 'ready' });
}

/**
 * The primary serves no checks itself: it checks the config once (so a broken one is reported once,
 * not N times), starts the admin server (one /metrics summed over the workers, one /readyz for the
 * group), then starts N workers. A worker that dies after serving is replaced; one that dies
 * before serving stops the whole group (a port or backend problem would only loop). SIGTERM/SIGINT/
 * SIGHUP are forwarded, and the primary exits once every worker has.
 */
async function runPrimary(count: number, configFile: string, grpcAddress: string | undefined): Promise<void> {
  const checked = await checkConfig(configFile);
  if (!checked.ok) {
    process.stderr.write(`${checked.problem}\n`);
    process.exit(1);
  }
  const cluster = (await import('node:cluster')).default;
  type Worker = import('node:cluster').Worker;
  // The primary accepts and hands connections out round-robin: Envoy keeps few long-lived
  // connections, and the kernel's own spreading (SCHED_NONE) can leave a worker with none.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const env = { MODELGATE_CONFIG: configFile };
  const ready = new WeakSet<Worker>();
  const startedAt = new WeakMap<Worker, number>();
  let stopping = false;
  let served = false;
  let failed = 0;
  const say = (msg: string) => process.stderr.write(`modelgate primary ${process.pid}: ${msg}\n`);
  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  const adminAddress = primaryAdminAddress(checked.loaded, grpcAddress);
  if (adminAddress !== undefined) {
    const { startClusterAdmin } = await import('../../admin/cluster-admin.js');
    try {
      const admin = await startClusterAdmin({ address: adminAddress, workers: live, stopping: () => stopping });
      say(`serving metrics and health on port ${admin.port} for all workers`);
    } catch (error) {
      say(`cannot serve the admin port ${adminAddress}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      process.exit(1);
    }
  }

  const fork = (): Worker => {
    const worker = cluster.fork(env);
    startedAt.set(worker, Date.now());
    worker.on('message', (m: { modelgate?: string }) => {
      if (m?.modelgate === 'ready') {
        ready.add(worker);
        served = true;
      }
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    // A worker still starting when shutdown begins dies of the forwarded signal: not a failure.
    const stoppedWhileStarting = stopping && !ready.has(worker) && signal !== null;
    if (code !== 0 && !stoppedWhileStarting) failed = code ?? 1;
    if (stopping) {
      if (live().length === 0) process.exit(failed === 0 ? 0 : 1);
      return;
    }
    if (!ready.has(worker) && !served) {
      // Nothing ever served: a port or backend problem the worker already reported. Stop, do not loop.
      say(`worker ${worker.process.pid} failed to start (exit ${code ?? signal}); stopping`);
      stopping = true;
      for (const w of live()) w.process.kill('SIGTERM');
      if (live().length === 0) process.exit(code && code !== 0 ? code : 1);
      return;
    }
    // Died serving, or a replacement died starting while others serve: replace it, slowly if it died young.
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    say(`worker ${worker.process.pid} died (exit ${code ?? signal}); starting a replacement`);
    setTimeout(() => !stopping && fork(), lived < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0);
  });

  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    failed = 0;
    if (live().length === 0) process.exit(0);
    // Connections the primary already accepted are still on their way to a worker over IPC; a
    // worker that stopped listening first would drop them. Let them land, then stop the workers.
    setTimeout(() => {
      for (const w of live()) w.process.kill('SIGTERM');
    }, HANDOFF_GRACE_MS);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', () => {
    for (const w of live()) w.process.kill('SIGHUP');
  });
  for (let i = 0; i < count; i++) fork();
}

/** The admin address `startModelgate` would listen on, or undefined when server.admin is disabled. */
function primaryAdminAddress(loaded: LoadedConfig, grpcAddress: string | undefined): string | undefined {
  const server = loaded.config.server;
  if (!server.admin.enabled) return undefined;
  return effectiveAdminAddress({
    configured: server.admin.address,
    source: loaded.sources.get('server.admin.address'),
    grpcAddress: grpcAddress ?? server.grpc.address,
  });
}

/** The same checks `modelgate validate` makes, as the one message a broken config gets. */
async function checkConfig(configFile: string): Promise<{ ok: true; loaded: LoadedConfig } | { ok: false; problem: string }> {
  const { loadConfigWithHash } = await import('../../admin/config-source.js');
  const { ConfigError } = await import('../../config/problems.js');
  const { buildStages } = await import('../../app/build-stages.js');
  const { unlimited } = await import('../../ratelimit/limiter.js');
  try {
    const { loaded } = loadConfigWithHash(configFile, process.env);
    const built = buildStages(loaded, { env: process.env, now: Date.now, limiter: unlimited });
    if (!built.ok) throw new ConfigError(configFile, built.problems.map(loaded.describe));
    return { ok: true, loaded };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, problem: error.message };
    throw error;
  }
}
