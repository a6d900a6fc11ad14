// OpenTelemetry tracing (docs/tracing.md), off unless the OTEL_* environment turns it on. Off, the
// SDK is never imported and the decision log is returned as it is: the check path does no tracing
// work at all. On, every check's decision line also becomes a span.

import type { Logger } from 'pino';
import { ConfigError } from '../config/problems.js';
import type { DecisionLog } from '../decision/decision-log.js';
import { tracingSettings } from '../tracing/settings.js';
import type { Closers } from './closers.js';

/** The decision log, traced when the environment asks; the exporter goes on `closers` once started. */
export async function withTracing(log: DecisionLog, env: NodeJS.ProcessEnv, logger: Logger, closers: Closers): Promise<DecisionLog> {
  const tracing = tracingSettings(env);
  if (!tracing.ok) throw new ConfigError('environment', tracing.problems);
  if (!tracing.settings) return log;
  const { startTracing } = await import('../tracing/start.js');
  const running = await startTracing(tracing.settings, (error) => logger.warn({ err: error }, 'could not export trace spans'));
  closers.push('tracing', () => running.shutdown());
  const { protocol, url, sampler, serviceName } = tracing.settings;
  const where = new URL(url);
  where.username = where.password = ''; // an endpoint may carry credentials; the log line must not
  logger.info({ protocol, url: where.href, sampler: sampler.kind, ratio: 'ratio' in sampler ? sampler.ratio : undefined, service_name: serviceName }, 'tracing checks with OpenTelemetry');
  return running.traceChecks(log);
}
