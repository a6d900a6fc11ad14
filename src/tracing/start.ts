// Starts the OpenTelemetry SDK for modelgate's check spans. Loaded by main.ts with a dynamic
// import only when tracing is on, so a server without tracing never loads the SDK at all.

import type { Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { DecisionLog } from '../decision/decision-log.js';
import { traceChecks } from './check-span.js';
import type { SamplerSetting, TracingSettings } from './settings.js';

export interface RunningTracing {
  readonly tracer: Tracer;
  /** Wraps the decision log so every logged check also gets its span (check-span.ts). */
  traceChecks(log: DecisionLog): DecisionLog;
  /** Exports every span ended so far (the bench charges the export to the checks that made it). */
  flush(): Promise<void>;
  /** Sends what is queued, then stops; never rejects (a collector that is down must not block shutdown). */
  shutdown(): Promise<void>;
}

export async function startTracing(settings: TracingSettings, onExportError: (error: unknown) => void): Promise<RunningTracing> {
  const exporter = await createExporter(settings);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ ...settings.resourceAttributes, 'service.name': settings.serviceName }),
    sampler: samplerFor(settings.sampler),
    spanProcessors: [
      new BatchSpanProcessor(reportingFailures(exporter, onExportError), {
        scheduledDelayMillis: settings.batch.scheduledDelayMs,
        maxExportBatchSize: Math.min(settings.batch.maxExportBatchSize, settings.batch.maxQueueSize),
        maxQueueSize: settings.batch.maxQueueSize,
        exportTimeoutMillis: settings.timeoutMs,
      }),
    ],
  });
  // The provider's own tracer, not the global one: nothing else in the process is instrumented,
  // and no context manager is installed (the span's parent is passed explicitly, see check-span.ts).
  const tracer = provider.getTracer('modelgate');
  return {
    tracer,
    traceChecks: (log) => traceChecks(log, tracer, { subjectHashKey: settings.subjectHashKey, parentBased: settings.sampler.kind.startsWith('parentbased_') }),
    flush: () => provider.forceFlush(),
    // Bounded: a collector that is down would otherwise hold the process's stop for the exporter's retries.
    shutdown: () => Promise.race([provider.shutdown().catch(onExportError), delay(SHUTDOWN_BUDGET_MS)]),
  };
}

const SHUTDOWN_BUDGET_MS = 2_000;

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}

function samplerFor(setting: SamplerSetting): Sampler {
  switch (setting.kind) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(setting.ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(setting.ratio) });
  }
}

async function createExporter(settings: TracingSettings): Promise<SpanExporter> {
  const compression = settings.compression as never; // the exporters' CompressionAlgorithm enum: 'gzip' | 'none'
  if (settings.protocol === 'grpc') {
    const [{ OTLPTraceExporter }, grpc] = await Promise.all([import('@opentelemetry/exporter-trace-otlp-grpc'), import('@grpc/grpc-js')]);
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(settings.headers)) metadata.set(key.toLowerCase(), value);
    const tls = new URL(settings.url).protocol === 'https:';
    return new OTLPTraceExporter({
      url: settings.url,
      metadata,
      compression,
      timeoutMillis: settings.timeoutMs,
      credentials: tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(),
    });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url: settings.url, headers: { ...settings.headers }, compression, timeoutMillis: settings.timeoutMs });
}

/** The SDK drops a failed batch silently (to its diag logger); modelgate counts and warns instead. */
function reportingFailures(exporter: SpanExporter, onError: (error: unknown) => void): SpanExporter {
  return {
    export: (spans, done) =>
      exporter.export(spans, (result) => {
        if (result.error !== undefined || result.code !== 0) onError(result.error ?? new Error('span export failed'));
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
