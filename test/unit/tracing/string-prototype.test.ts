// The OpenTelemetry SDK and both OTLP exporters, loaded and started as main.ts does when tracing is
// on, must leave String.prototype in V8's fast mode (see test/unit/deps/string-prototype.test.ts for
// why: a dictionary-mode String.prototype slows every charCodeAt in the process 3-5x).

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STRING_SUBCLASS, stringPrototypeAfter } from '../../helpers/string-prototype.js';

function probe(prelude: string): string {
  const start = JSON.stringify(resolve('src/tracing/start.ts'));
  const settings = JSON.stringify(resolve('src/tracing/settings.ts'));
  return stringPrototypeAfter([
    prelude,
    `const { startTracing } = await import(${start});`,
    `const { tracingSettings } = await import(${settings});`,
    "for (const protocol of ['http/protobuf', 'grpc']) {",
    "  const { settings } = tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });",
    '  const running = await startTracing(settings, () => {});',
    "  running.tracer.startSpan('probe').end();",
    '  await running.shutdown();',
    '}',
  ]);
}

describe('the tracing modules', () => {
  it('keep String.prototype fast once the SDK and both exporters are loaded and started', () => {
    expect(probe('')).toBe('fast');
  });

  it('the probe sees a String subclass (so the check above can fail)', () => {
    expect(probe(STRING_SUBCLASS)).toBe('slow');
  });
});
