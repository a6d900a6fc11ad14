// One span per check, written where the decision line is (after the answer is on its way), as a
// child of the trace context Envoy sent. Only main.ts wraps the decision log with this, and only
// when tracing is on: with tracing off the check path creates no span objects and reads no context.

import { createHash, createHmac } from 'node:crypto';
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { DecisionLog, DecisionLogEntry } from '../decision/decision-log.js';
import { REASONS } from '../decision/reasons.js';
import { traceContextFrom, type TraceParent } from '../log/trace-id.js';
import { checkSpanAttributes } from './span-attributes.js';

export const CHECK_SPAN_NAME = 'modelgate.check';

/** The pipeline's stages in the order runCheck marks them (CheckTrace.marks). */
const STAGES = ['identity', 'target', 'authorize', 'limit'] as const;

export interface CheckSpanOptions {
  /** HMAC key for the subject attribute; without one the attribute is a plain SHA-256. */
  readonly subjectHashKey?: string;
  /**
   * The sampler is parent-based: a parent that was not sampled means no span, decided here without
   * the SDK (creating its non-recording span cost ~1.5 µs, the bulk of tracing's cost at 1%).
   */
  readonly parentBased?: boolean;
}

/**
 * Wraps the decision log: each entry becomes a span from the check's start to now, its parent the
 * trace context of the gRPC call metadata, else of the request's headers (one parse: the line then
 * gets the span's trace id from here). The sampler sees that parent, so Envoy's decision holds.
 * Stage timings come from the check's trace (marks); it is recorded for every check while tracing
 * is on, because whether a span is sampled is known only here, after the check.
 */
export function traceChecks(log: DecisionLog, tracer: Tracer, options: CheckSpanOptions = {}): DecisionLog {
  const hashSubject = subjectHasher(options.subjectHashKey);
  const parentBased = options.parentBased === true;
  const traced = (entry: DecisionLogEntry): void => {
    const endMs = performance.timeOrigin + performance.now();
    const { input, transportTrace } = entry;
    const parent = (transportTrace && traceContextFrom(transportTrace)) || (input ? traceContextFrom((name) => input.headers[name]) : undefined);
    if (parentBased && parent?.spanId && !parent.sampled) return void log(forLog(entry, parent.traceId));
    const span = tracer.startSpan(CHECK_SPAN_NAME, { kind: SpanKind.SERVER, startTime: endMs - entry.latencyUs / 1000 }, parentContext(parent));
    let traceId = parent?.traceId ?? '';
    if (span.isRecording()) {
      record(span, entry, hashSubject);
      span.end(endMs);
      traceId = span.spanContext().traceId;
    }
    log(forLog(entry, traceId));
  };
  // The line keeps the pipeline's trace only when the log asked for it (debug), as without tracing.
  const forLog = (entry: DecisionLogEntry, traceId: string): DecisionLogEntry => ({ ...entry, traceId, trace: log.wantsTrace?.() === true ? entry.trace : undefined });
  return Object.assign(traced, { wantsTrace: () => true });
}

function parentContext(parent: TraceParent | undefined): Context {
  // A trace id without a span id (a bare `x-b3-traceid`) cannot be a parent: the span starts its own trace.
  if (!parent?.spanId) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    // 64-bit B3 ids are left-padded, as OpenTelemetry's B3 propagator does.
    traceId: parent.traceId.padStart(32, '0'),
    spanId: parent.spanId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    traceState: parent.traceState ? createTraceState(parent.traceState) : undefined,
  });
}

function record(span: Span, entry: DecisionLogEntry, hashSubject: (subject: string) => string): void {
  const { decision } = entry;
  span.setAttributes(checkSpanAttributes(entry, decision.identity ? hashSubject(decision.identity.subject) : undefined));
  // 503-class reasons are modelgate's own failures; a deny is a correct answer, not an error.
  if (REASONS[decision.reason].http === 503) span.setStatus({ code: SpanStatusCode.ERROR, message: decision.reason });
  const marks = entry.trace?.marks;
  if (!marks) return;
  const origin = performance.timeOrigin;
  for (let i = 1; i < marks.length && i <= STAGES.length; i++) {
    const durationUs = Math.round((marks[i]! - marks[i - 1]!) * 1000);
    span.addEvent(`modelgate.stage.${STAGES[i - 1]}`, { 'modelgate.stage.duration_us': durationUs }, origin + marks[i]!);
  }
}

/** Subjects repeat: a bounded cache spares one hash per sampled check. */
function subjectHasher(key: string | undefined): (subject: string) => string {
  const cache = new Map<string, string>();
  return (subject) => {
    let hashed = cache.get(subject);
    if (hashed !== undefined) return hashed;
    hashed = key
      ? `hmac-sha256:${createHmac('sha256', key).update(subject).digest('hex')}`
      : `sha256:${createHash('sha256').update(subject).digest('hex')}`;
    if (cache.size >= 10_000) cache.clear();
    cache.set(subject, hashed);
    return hashed;
  };
}
