// One JSON line per check, written after the answer is sent: who, what, the decision and why, how
// long it took. Credentials and bodies never appear; a body appears only as its SHA-256.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { CheckInput } from '../check/check-input.js';
import type { CheckTrace } from '../check/trace.js';
import { plainInfoWriter } from '../log/logger.js';
import { traceIdFrom } from '../log/trace-id.js';
import { hasLimitMetadata, type Decision } from './decision.js';

export interface DecisionLogEntry {
  readonly decisionId: string;
  readonly input: CheckInput | undefined;
  readonly decision: Decision;
  readonly latencyUs: number;
  readonly httpStatus: number;
  /** Filled by the pipeline only when `wantsTrace()` said so. */
  readonly trace?: CheckTrace;
  /** Trace headers of the transport call (gRPC metadata), read before the request's headers. */
  readonly transportTrace?: (name: string) => string | undefined;
  /**
   * Set by tracing (src/tracing/check-span.ts), which has already read the trace headers: the
   * trace of the check's span, '' for none. When absent the log reads the headers itself.
   */
  readonly traceId?: string;
}

export interface DecisionLog {
  (entry: DecisionLogEntry): void;
  /** Asked once per check, before it runs: should the pipeline record a trace for this line? */
  readonly wantsTrace?: () => boolean;
}

export interface DecisionLogOptions {
  /**
   * Add each stage's outcome (identity result, every rule considered) to the line when the logger
   * is at debug or finer. At info the pipeline records nothing, so the hot path pays nothing.
   */
  readonly trace?: boolean;
}

export function decisionLog(logger: Logger, enabled: boolean, options: DecisionLogOptions = {}): DecisionLog {
  if (!enabled) return () => {};
  // The line is built from fixed fields and never holds a header map or a credential, so it skips
  // the logger's redaction: walking every redact path (wildcards included) on each line cost more
  // than the rest of the check (measured in docs/performance.md). A line with a trace keeps it.
  // Both children write at info whatever their own level; the parent's level (a reload changes it)
  // decides whether a line is written. `pid` tells apart the workers of `serve --workers N`.
  const plain = logger.child({ pid: process.pid }, { redact: [], level: 'info' });
  const redacting = logger.child({ pid: process.pid }, { level: 'info' });
  const writePlain = plainInfoWriter(logger, plain) ?? ((fields: object, msg: string) => plain.info(fields, msg));
  const log: DecisionLog = ({ decisionId, input, decision, latencyUs, httpStatus, trace, transportTrace, traceId }) => {
    if (!logger.isLevelEnabled('info')) return;
    const id = decision.identity;
    const fields = {
      decision_id: decisionId,
      request_id: input?.requestId || undefined,
      stream_id: input?.streamId || undefined,
      trace_id: (traceId ?? (transportTrace && traceIdFrom(transportTrace)) ?? (input ? traceIdFrom((name) => input.headers[name]) : undefined)) || undefined,
      method: input?.method,
      host: input?.host,
      subject: id?.subject,
      auth_method: id?.method,
      roles: id?.roles,
      model: decision.model,
      // OpenTelemetry's GenAI attribute name for the same value, nested as `gen_ai.request.model`.
      gen_ai: decision.model === undefined ? undefined : { request: { model: decision.model } },
      action: decision.action,
      decision: decision.allowed ? 'allow' : 'deny',
      reason: decision.reason,
      status: httpStatus,
      rule_id: decision.ruleId,
      shadow_rules: decision.shadowRules.length > 0 ? decision.shadowRules : undefined,
      limit: hasLimitMetadata(decision) ? decision.limit!.metadata : undefined,
      limit_shadow_denied: decision.limit?.shadowDenied.length ? decision.limit.shadowDenied : undefined,
      detail: decision.detail,
      latency_us: latencyUs,
      body_sha256: input?.body ? createHash('sha256').update(input.body.text).digest('hex') : undefined,
      body_partial: input?.body?.partial || undefined,
      trace: trace ? traceFields(trace) : undefined,
    };
    if (trace) redacting.info(fields, 'decision');
    else writePlain(fields, 'decision');
  };
  if (!options.trace) return log;
  return Object.assign(log, { wantsTrace: () => logger.isLevelEnabled('debug') });
}

/** The trace as log fields: what each stage concluded, never a credential or a header. */
export function traceFields(trace: CheckTrace): Record<string, unknown> {
  const r = trace.identity;
  const identity = !r
    ? undefined
    : r.ok
      ? { ok: true, method: r.identity.method, subject: r.identity.subject, roles: r.identity.roles, attributes: r.identity.attributes, issuer: r.identity.issuer }
      : { ok: false, reason: r.reason, detail: r.detail };
  return { identity, rules: Object.fromEntries(trace.rules.map((rule) => [rule.id, rule.outcome])) };
}
