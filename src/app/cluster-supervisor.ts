// The cluster supervisor of `serve --workers N`: a node:cluster primary that checks the config once,
// serves the one admin port and the one audit store for the group, and keeps N workers running
// (each a whole single-process `serve`), forwarding signals and stopping the group on a failed start.

import cluster, { type Worker } from 'node:cluster';
import pino from 'pino';
import { startClusterAdmin } from '../admin/cluster-admin.js';
import { effectiveAdminAddress } from '../admin/server.js';
import { serveAuditAppends } from '../audit/ipc-sink.js';
import { openAuditRuntime, type AuditRuntime } from '../audit/runtime.js';
import type { LoadedConfig } from '../config/load.js';
import { unlimited } from '../ratelimit/limiter.js';
import { listening } from './listen-error.js';
import { loadStages } from './load-stages.js';
import { startFailureLine } from './start-failure.js';
import { perProcessStateProblems } from './shared-state.js';

/** Workers that die this soon after their start are failing to start, not crashing: do not loop. */
const RESTART_BACKOFF_MS = 1_000;
/** How long the primary lets accepted connections reach a worker before stopping the workers. */
const HANDOFF_GRACE_MS = 100;

/**
 * The primary serves no checks itself: it checks the config once (so a broken one is reported once,
 * not N times), starts the admin server (one /metrics summed over the workers, one /readyz for the
 * group), then starts N workers. A worker that dies after serving is replaced; one that fails to
 * start before any served stops the whole group with its one line (a port or backend problem
 * would only loop). SIGTERM/SIGINT/SIGHUP are forwarded, and the primary exits once every worker has.
 */
export async function runPrimary(count: number, configFile: string, grpcAddress: string | undefined): Promise<void> {
  const checked = checkConfig(configFile);
  if (!checked.ok) {
    process.stderr.write(`${checked.problem}\n`);
    process.exit(1);
  }
  const shared = perProcessStateProblems(checked.loaded.config, configFile, count);
  if (shared.length > 0) {
    process.stderr.write(`${shared.join('\n')}\n`);
    process.exit(1);
  }
  // The primary accepts and hands connections out round-robin: Envoy keeps few long-lived
  // connections, and the kernel's own spreading (SCHED_NONE) can leave a worker with none.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  // A store has one writer: the primary opens it and every worker's receiver appends through it.
  const audit = await openPrimaryAudit(checked.loaded);
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
    try {
      const admin = await listening('admin', adminAddress, startClusterAdmin({ address: adminAddress, workers: live, stopping: () => stopping }));
      say(`serving metrics and health on port ${admin.port} for all workers`);
    } catch (error) {
      process.stderr.write(`${startFailureLine(error)}\n`);
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
function checkConfig(configFile: string): { ok: true; loaded: LoadedConfig } | { ok: false; problem: string } {
  const result = loadStages(configFile, { env: process.env, now: Date.now, limiter: unlimited });
  return result.ok ? { ok: true, loaded: result.loaded } : { ok: false, problem: result.error.message };
}
