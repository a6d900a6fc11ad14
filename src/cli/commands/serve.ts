// `modelgate serve`: runs the server until SIGTERM/SIGINT, reloads on SIGHUP; with --workers N > 1 a
// node:cluster primary runs N such processes sharing the listening ports, and serves the one admin port.

import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { effectiveAdminAddress } from '../../admin/server.js';
import type { AuditRuntime } from '../../audit/runtime.js';
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
      `\nGenerated a dev API key for subject api_key:svc:reporting-bot (shown once, stored only as a hash):\n  ${report.newApiKey}\n\n`,
    );
  }
  return dev.EXAMPLE_CONFIG;
}

/**
 * One serving process: the whole single-process path, used alone (--workers 1) or as a cluster worker.
 * A worker leaves the admin port to the primary and answers its metrics and readiness requests instead.
 */
async function serveOne(opts: ServeOptions, isWorker: boolean): Promise<void> {
  // A terminal's Ctrl-C reaches every process of the foreground group. A worker leaves it to the
  // primary, which got it too and stops the workers in order once accepted connections have landed.
  if (isWorker) process.on('SIGINT', () => {});
  const answers = isWorker ? (await import('../../admin/cluster-admin.js')).answerPrimary() : undefined;
  const { startModelgate } = await import('../../main.js');
  const grpcLogs = (await import('../grpc-logs.js')).routeGrpcLogs();
  const configFile = isWorker ? process.env.MODELGATE_CONFIG! : await resolveConfigFile(opts);
  let gate: Awaited<ReturnType<typeof startModelgate>>;
  try {
    // With an audit section, a worker's access-log receiver writes through the primary's one store.
    const auditSink = isWorker && process.env.MODELGATE_AUDIT_VIA_PRIMARY === '1' ? (await import('../../audit/ipc-sink.js')).primaryAuditSink() : undefined;
    gate = await startModelgate({ configFile, grpcAddress: opts.address, admin: !isWorker, auditSink });
  } catch (error) {
    // startModelgate has already closed whatever it opened (Redis, audit store, listeners).
    const { ListenError } = await import('../../app/listen-error.js');
    grpcLogs.failed(!(error instanceof ListenError));
    return failedStart(await startFailureLine(error), isWorker);
  }
  grpcLogs.serving(gate.logger);
  // Workers share stdout: each line names its process (the logger's base carries only `service`).
  if (isWorker) gate.logger.setBindings({ pid: process.pid });
  let stopping = false;
  let exitCode: 0 | 1 = 0;
  // A fatal error during a signal's drain still ends in exit 1, within its own deadline.
  const stop = (reason: string, code: 0 | 1, deadlineMs?: number) => {
    if (code === 1) exitCode = 1;
    if (deadlineMs !== undefined) setTimeout(() => process.exit(exitCode), deadlineMs);
    if (stopping) return;
    stopping = true;
    gate.logger.info({ signal: reason }, 'shutting down: no new checks, finishing in-flight ones');
    gate.close().then(
      () => process.exit(exitCode),
      () => process.exit(1),
    );
  };
  const { installProcessGuard } = await import('../process-guard.js');
  // After an uncaught exception the checks in flight get one second (each is well under Envoy's
  // 200 ms budget); longer would only stretch the time a possibly corrupt process serves.
  installProcessGuard({ logger: gate.logger, metrics: gate.metrics, fatal: () => stop('uncaughtException', 1, 1_000) });
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  if (!isWorker) process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGHUP', () => void gate.reload());
  answers?.serving({ registry: gate.metrics.registry, ready: gate.ready });
  // The primary only learns a worker is serving from this message; until then a death is a failed start.
  if (isWorker) process.send?.({ modelgate: 'ready' });
}

/** The one line a failed start prints: the config problems, or the address that could not be bound. */
async function startFailureLine(error: unknown): Promise<string> {
  const { ConfigError } = await import('../../config/problems.js');
  const { ListenError } = await import('../../app/listen-error.js');
  if (error instanceof ConfigError) return error.message;
  if (error instanceof ListenError) return `modelgate: ${error.message}`;
  return `modelgate: cannot start: ${error instanceof Error ? error.message : String(error)}`;
}

/** Exit 1 with one line; a worker hands the line to the primary, which prints the first one only. */
function failedStart(line: string, isWorker: boolean): void {
  if (isWorker && process.connected) {
    setTimeout(() => process.exit(1), 1_000);
    process.send!({ modelgate: 'failed', line }, () => process.exit(1));
    return;
  }
  process.stderr.write(`${line}\n`);
  process.exit(1);
}

/**
 * The primary serves no checks itself: it checks the config once (so a broken one is reported once,
 * not N times), starts the admin server (one /metrics summed over the workers, one /readyz for the
 * group), then starts N workers. A worker that dies after serving is replaced; one that fails to
 * start before any served stops the whole group with its one line (a port or backend problem
 * would only loop). SIGTERM/SIGINT/SIGHUP are forwarded, and the primary exits once every worker has.
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
  // A store has one writer: the primary opens it and every worker's receiver appends through it.
  const audit = await openPrimaryAudit(checked.loaded);
  const { serveAuditAppends } = await import('../../audit/ipc-sink.js');
  const env = { MODELGATE_CONFIG: configFile, ...(audit ? { MODELGATE_AUDIT_VIA_PRIMARY: '1' } : {}) };
  const exit = (code: number) => {
    if (!audit) return process.exit(code);
    audit.close().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
  const ready = new WeakSet<Worker>();
  const startedAt = new WeakMap<Worker, number>();
  let stopping = false;
  let served = false;
  let failed = 0;
  const say = (msg: string) => process.stderr.write(`modelgate primary ${process.pid}: ${msg}\n`);
  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const stopWorkers = () => {
    for (const w of live()) w.process.kill('SIGTERM');
    if (live().length === 0) exit(failed === 0 ? 0 : 1);
  };
  /** Print the one line that says why, stop every worker, exit 1 once they are gone. */
  const failGroup = (line: string) => {
    if (stopping) return;
    stopping = true;
    failed = 1;
    process.stderr.write(`${line}\n`);
    stopWorkers();
  };

  const adminAddress = primaryAdminAddress(checked.loaded, grpcAddress);
  if (adminAddress !== undefined) {
    const { startClusterAdmin } = await import('../../admin/cluster-admin.js');
    const { listening } = await import('../../app/listen-error.js');
    try {
      const admin = await listening('admin', adminAddress, startClusterAdmin({ address: adminAddress, workers: live, stopping: () => stopping }));
      say(`serving metrics and health on port ${admin.port} for all workers`);
    } catch (error) {
      process.stderr.write(`${await startFailureLine(error)}\n`);
      return exit(1);
    }
  }

  const fork = (): Worker => {
    const worker = cluster.fork(env);
    if (audit) serveAuditAppends(worker, audit.store);
    startedAt.set(worker, Date.now());
    worker.on('message', (m: { modelgate?: string; line?: unknown }) => {
      if (m?.modelgate === 'ready') {
        ready.add(worker);
        served = true;
      } else if (m?.modelgate === 'failed') {
        // Before anything served it stops the group; a replacement that fails is retried, said once each.
        if (served) say(`a replacement worker failed to start: ${String(m.line)}`);
        else failGroup(String(m.line));
      }
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    // A worker still starting when shutdown begins dies of the forwarded signal: not a failure.
    const stoppedWhileStarting = stopping && !ready.has(worker) && signal !== null;
    if (code !== 0 && !stoppedWhileStarting) failed = code ?? 1;
    if (stopping) {
      if (live().length === 0) exit(failed === 0 ? 0 : 1);
      return;
    }
    if (!ready.has(worker) && !served) {
      // Nothing ever served. A worker that failed cleanly has sent its line, which may still be in the
      // IPC pipe behind this exit: give it a moment before falling back to a line of our own.
      const pid = worker.process.pid;
      setTimeout(() => failGroup(`modelgate primary ${process.pid}: worker ${pid} failed to start (exit ${code ?? signal}); stopping`), 200);
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
    if (live().length === 0) exit(0);
    // Connections the primary already accepted are still on their way to a worker over IPC; a
    // worker that stopped listening first would drop them. Let them land, then stop the workers.
    setTimeout(stopWorkers, HANDOFF_GRACE_MS);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', () => {
    for (const w of live()) w.process.kill('SIGHUP');
  });
  guardPrimary(say, () => {
    // See process-guard.ts: the primary's state may be corrupt too; its workers drain and exit.
    failGroup(`modelgate primary ${process.pid}: stopping the workers after an uncaught exception`);
  });
  for (let i = 0; i < count; i++) fork();
}

/** The audit store the primary writes for its workers, or undefined without an audit section. */
async function openPrimaryAudit(loaded: LoadedConfig): Promise<AuditRuntime | undefined> {
  if (!loaded.config.audit) return undefined;
  const { openAuditRuntime } = await import('../../audit/runtime.js');
  const { default: pino } = await import('pino');
  const opened = await openAuditRuntime(loaded.config.audit, pino({ base: { pid: process.pid, role: 'primary' } }));
  if (!opened.ok) {
    process.stderr.write(`${loaded.file}: audit: ${opened.error}\n`);
    process.exit(1);
  }
  return opened.runtime;
}

/** The primary's process guard (it has no logger or metrics of its own): one stderr line per error. */
function guardPrimary(say: (msg: string) => void, fatal: () => void): void {
  const describe = (error: unknown) => (error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error));
  process.on('unhandledRejection', (reason) => say(`unhandled promise rejection (${describe(reason)}); the primary keeps running`));
  process.on('uncaughtException', (error) => {
    say(`uncaught exception (${describe(error)})`);
    fatal();
  });
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
