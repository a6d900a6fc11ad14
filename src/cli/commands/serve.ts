// `modelgate serve`: runs the server until SIGTERM/SIGINT, reloads on SIGHUP; with --workers N > 1 a
// node:cluster primary (app/cluster-supervisor.ts) runs N such processes sharing the listening ports.

import type { Command } from 'commander';
import { availableParallelism } from 'node:os';

interface ServeOptions {
  config?: string;
  address?: string;
  workers?: string;
}

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
      const { runPrimary } = await import('../../app/cluster-supervisor.js');
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
    const { startFailureLine } = await import('../../app/start-failure.js');
    return failedStart(startFailureLine(error), isWorker);
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
