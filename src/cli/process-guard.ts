// The last line of defence of `modelgate serve`: whatever no handler caught is logged once, with its
// class, and counted. Installed by the serve command only (the composition root of a process),
// never by library code, so a host embedding startModelgate (tests, tools) keeps its own policy.
//
// The two kinds are treated differently, on purpose:
// - An unhandled rejection is a promise nobody awaited. Nothing was unwound through our synchronous
//   code, the function that rejected has already returned, and every check still gets its answer
//   from its own handler's guards. Exiting would turn one bad request (sent to every replica by a
//   retrying client) into a fleet-wide outage, so it is logged, counted, and serving goes on.
// - An uncaught exception unwound the stack through arbitrary frames, possibly halfway through an
//   update of shared state (a bucket map, the encoder's shared writer, a half-closed socket). Node's
//   documentation is explicit that resuming afterwards is not safe. So the process stops taking
//   checks (gRPC health says NOT_SERVING, so Envoy moves traffic away), gives the checks in flight
//   a short drain, and exits 1; the supervisor (Kubernetes, systemd, the cluster primary for a
//   worker) starts a clean process.

import type { Logger } from 'pino';
import { errorClass, type ModelgateMetrics } from '../metrics/metrics.js';

export type UncaughtKind = 'unhandled_rejection' | 'uncaught_exception';

export interface ProcessGuardOptions {
  readonly logger: Logger;
  readonly metrics: Pick<ModelgateMetrics, 'uncaughtError'>;
  /** After the first uncaught exception: stop serving and exit non-zero. */
  readonly fatal: (error: unknown) => void;
}

export function installProcessGuard(options: ProcessGuardOptions): void {
  const { logger, metrics } = options;
  let fatal = false;
  const record = (kind: UncaughtKind, error: unknown, message: string) => {
    try {
      metrics.uncaughtError(kind, error);
      logger[kind === 'uncaught_exception' ? 'fatal' : 'error']({ err: error, kind, error_class: errorClass(error) }, message);
    } catch {
      // The logger itself is what broke: stderr is all that is left.
      process.stderr.write(`modelgate: ${kind} (${errorClass(error)}): ${String(error)}\n`);
    }
  };
  process.on('unhandledRejection', (reason) => {
    record('unhandled_rejection', reason, 'unhandled promise rejection: logged and counted; serving goes on');
  });
  process.on('uncaughtException', (error) => {
    if (fatal) {
      // A second one while draining: the state is past saving.
      record('uncaught_exception', error, 'uncaught exception while stopping: exiting now');
      process.exit(1);
    }
    fatal = true;
    record('uncaught_exception', error, 'uncaught exception: state may be corrupt; stopping and exiting 1 for the supervisor to restart');
    options.fatal(error);
  });
}
