// Tracing settings from OTEL_* variables: off unless asked for, the spec's defaults, and a start-up
// error naming the variable for anything modelgate cannot honour.

import { describe, expect, it } from 'vitest';
import { tracingSettings, type TracingSettings } from '../../../src/tracing/settings.js';

function on(env: Record<string, string>): TracingSettings {
  const result = tracingSettings(env);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  if (!result.settings) throw new Error('tracing is off');
  return result.settings;
}

function problems(env: Record<string, string>): string[] {
  const result = tracingSettings(env);
  return result.ok ? [] : result.problems;
}

describe('tracingSettings', () => {
  it('is off by default, with OTEL_TRACES_EXPORTER=none and with OTEL_SDK_DISABLED=true', () => {
    expect(tracingSettings({})).toEqual({ ok: true, settings: undefined });
    expect(tracingSettings({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toEqual({ ok: true, settings: undefined });
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({ ok: true, settings: undefined });
    expect(tracingSettings({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toEqual({ ok: true, settings: undefined });
  });

  it('turns on with OTEL_TRACES_EXPORTER=otlp, using the spec defaults', () => {
    expect(on({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({
      protocol: 'http/protobuf',
      url: 'http://localhost:4318/v1/traces',
      sampler: { kind: 'parentbased_always_on' },
      serviceName: 'modelgate',
      compression: 'none',
      timeoutMs: 10_000,
      batch: { scheduledDelayMs: 5_000, maxExportBatchSize: 512, maxQueueSize: 2_048 },
    });
    expect(on({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).url).toBe('http://localhost:4317');
  });

  it('turns on when an OTLP endpoint is set and OTEL_TRACES_EXPORTER is not', () => {
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).url).toBe('http://collector:4318/v1/traces');
    // The per-signal endpoint is used as it is.
    expect(on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/custom' }).url).toBe('https://collector/custom');
    expect(on({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317' }).url).toBe('http://collector:4317');
  });

  it('reads samplers, headers, resource attributes and the service name', () => {
    const s = on({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc, x-tenant = t1',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,deployment.environment=prod',
    });
    expect(s.sampler).toEqual({ kind: 'parentbased_traceidratio', ratio: 0.01 });
    expect(s.headers).toEqual({ authorization: 'Bearer abc', 'x-tenant': 't1' });
    expect(s.serviceName).toBe('from-attrs');
    expect(s.resourceAttributes['deployment.environment']).toBe('prod');
    expect(on({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SERVICE_NAME: 'edge-gate', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' }).serviceName).toBe('edge-gate');
    expect(on({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'traceidratio' }).sampler).toEqual({ kind: 'traceidratio', ratio: 1 });
  });

  it('names the variable of every value it cannot honour', () => {
    expect(problems({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual([`OTEL_TRACES_EXPORTER: 'zipkin' is not supported (modelgate exports 'otlp', or 'none')`]);
    expect(problems({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toEqual([
      `OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' is not supported (use 'http/protobuf' or 'grpc')`,
    ]);
    expect(problems({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toEqual([
      `OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, got '1.5'`,
    ]);
    expect(problems({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'sometimes' })[0]).toMatch(/^OTEL_TRACES_SAMPLER: 'sometimes' is not supported/);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual([`OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318/v1/traces' is not an http:// or https:// URL`]);
    expect(problems({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toEqual([`OTEL_BSP_SCHEDULE_DELAY: expected a whole number >= 0, got 'soon'`]);
    expect(problems({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_COMPRESSION: 'br' })[0]).toMatch(/^OTEL_EXPORTER_OTLP_COMPRESSION: 'br'/);
  });

  it('never echoes a malformed header entry (it may hold a credential)', () => {
    const found = problems({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_HEADERS: 'x=1,secret-token-without-key' });
    expect(found).toEqual(['OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value (percent-encoded)']);
    expect(found.join()).not.toContain('secret-token');
  });
});
