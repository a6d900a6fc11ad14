// One span per check, exported over OTLP to a real receiver and decoded with the OpenTelemetry
// protos: its parent is the trace context of the gRPC call metadata (else the request headers), its
// attributes say what was decided and why, its events time each stage, and sampling follows the
// parent. The decision line carries the span's trace id and `gen_ai.request.model`.

import { createHash, createHmac } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../helpers/otlp-receiver.js';

const PRINCIPAL = 'spiffe://t/analyst';
const config = (extra = '') => `
identity:
  order: [mtls]
  mtls:
    sources: [principal]
    workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
limits:
  buckets:
    - { id: tight, match: { subjects: ['mtls:spiffe://t/limited'] }, rate: 1, per: minute, burst: 1 }
${extra}`;

const ENVOY_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const ENVOY_SPAN = '00f067aa0ba902b7';
const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const traceparent = (trace: string, span: string, flags = '01') => `00-${trace}-${span}-${flags}`;

function otelEnv(receiver: OtlpReceiver, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.httpPort}`,
    OTEL_SERVICE_NAME: 'modelgate-test',
    OTEL_BSP_SCHEDULE_DELAY: '20',
    ...extra,
  };
}

async function check(t: TestGate, requestId: string, o: { principal?: string; headers?: Record<string, string>; metadata?: Record<string, string> } = {}) {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(o.metadata ?? {})) metadata.set(k, v);
  await t.client.check(envoyCheckRequest({ requestId, principal: o.principal ?? PRINCIPAL, headers: o.headers }), 5000, metadata);
  await expect.poll(() => t.logs.find((l) => l.msg === 'decision' && l.request_id === requestId)).toBeDefined();
  return t.logs.find((l) => l.msg === 'decision' && l.request_id === requestId)!;
}

async function spanFor(receiver: OtlpReceiver, requestId: string): Promise<ReceivedSpan> {
  await expect.poll(() => receiver.spans.find((s) => s.attributes['modelgate.request_id'] === requestId), { timeout: 5000 }).toBeDefined();
  return receiver.spans.find((s) => s.attributes['modelgate.request_id'] === requestId)!;
}

describe('check spans over OTLP/HTTP (parent-based sampling, the default)', () => {
  let receiver: OtlpReceiver;
  let t: TestGate;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    t = await startTestGate(config(), { env: otelEnv(receiver) });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it("is a child of the span in the gRPC call metadata, before the request's own traceparent", async () => {
    const line = await check(t, 'meta-1', {
      metadata: { traceparent: traceparent(ENVOY_TRACE, ENVOY_SPAN), tracestate: 'envoy=1' },
      headers: { traceparent: traceparent(CLIENT_TRACE, CLIENT_SPAN) },
    });
    const span = await spanFor(receiver, 'meta-1');
    expect(span).toMatchObject({ service: 'modelgate-test', name: 'modelgate.check', kind: 2, traceId: ENVOY_TRACE, parentSpanId: ENVOY_SPAN });
    expect(span.status.code).toBe(0);
    expect(line.trace_id).toBe(ENVOY_TRACE);
    expect(line.gen_ai).toEqual({ request: { model: 'fraud-detector' } });
    expect(line.model).toBe('fraud-detector');
  });

  it('says what was decided and why, with a hash of the subject and never the subject itself', async () => {
    const line = await check(t, 'attrs-1', { metadata: { traceparent: traceparent(ENVOY_TRACE, ENVOY_SPAN) } });
    const span = await spanFor(receiver, 'attrs-1');
    const subject = String(line.subject);
    expect(subject).toContain(PRINCIPAL);
    expect(span.attributes).toMatchObject({
      'modelgate.decision': 'allow',
      'modelgate.reason': 'allowed',
      'modelgate.rule_id': 'analysts',
      'gen_ai.request.model': 'fraud-detector',
      'modelgate.action': 'predict',
      'modelgate.auth_method': 'mtls',
      'modelgate.limit.outcome': 'allowed',
      'modelgate.http_status': 200,
      'modelgate.subject.hash': `sha256:${createHash('sha256').update(subject).digest('hex')}`,
      'rpc.system': 'grpc',
      'rpc.method': 'Check',
    });
    expect(JSON.stringify(span.attributes)).not.toContain(PRINCIPAL);
  });

  it('times each stage with an event inside the span', async () => {
    await check(t, 'stages-1', { metadata: { traceparent: traceparent(ENVOY_TRACE, ENVOY_SPAN) } });
    const span = await spanFor(receiver, 'stages-1');
    expect(span.events.map((e) => e.name)).toEqual(['modelgate.stage.identity', 'modelgate.stage.target', 'modelgate.stage.authorize', 'modelgate.stage.limit']);
    for (const event of span.events) {
      expect(event.timeNs).toBeGreaterThanOrEqual(span.startNs);
      expect(event.timeNs).toBeLessThanOrEqual(span.endNs);
      expect(event.attributes['modelgate.stage.duration_us']).toBeGreaterThanOrEqual(0);
    }
  });

  it('falls back to the request headers, and continues B3 too', async () => {
    await check(t, 'headers-1', { headers: { traceparent: traceparent(CLIENT_TRACE, CLIENT_SPAN) } });
    expect(await spanFor(receiver, 'headers-1')).toMatchObject({ traceId: CLIENT_TRACE, parentSpanId: CLIENT_SPAN });
    await check(t, 'b3-1', { headers: { b3: `${CLIENT_TRACE}-${CLIENT_SPAN}-1` } });
    expect(await spanFor(receiver, 'b3-1')).toMatchObject({ traceId: CLIENT_TRACE, parentSpanId: CLIENT_SPAN });
  });

  it('starts a trace when none came, and the decision line names it', async () => {
    const line = await check(t, 'root-1');
    const span = await spanFor(receiver, 'root-1');
    expect(span.parentSpanId).toBe('');
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(line.trace_id).toBe(span.traceId);
  });

  it("follows the parent's decision not to sample: no span, the line still has the trace id", async () => {
    const unsampled = '11111111111111111111111111111111';
    const line = await check(t, 'unsampled-1', { metadata: { traceparent: traceparent(unsampled, ENVOY_SPAN, '00') } });
    expect(line.trace_id).toBe(unsampled);
    // A sampled check after it: once its span is in, the batch holding the first one would be too.
    await check(t, 'sampled-after', { metadata: { traceparent: traceparent(ENVOY_TRACE, ENVOY_SPAN) } });
    await spanFor(receiver, 'sampled-after');
    expect(receiver.spans.filter((s) => s.traceId === unsampled)).toEqual([]);
  });

  it('records denies: the limiter outcome, and no subject when nobody was identified', async () => {
    await check(t, 'limit-1', { principal: 'spiffe://t/limited' });
    await check(t, 'limit-2', { principal: 'spiffe://t/limited' });
    expect((await spanFor(receiver, 'limit-2')).attributes).toMatchObject({
      'modelgate.decision': 'deny',
      'modelgate.reason': 'rate_limited',
      'modelgate.limit.outcome': 'rate_limited',
      'modelgate.limit.id': 'tight',
      'modelgate.http_status': 429,
    });
    await check(t, 'anon-1', { principal: '' });
    const anon = await spanFor(receiver, 'anon-1');
    expect(anon.attributes).toMatchObject({ 'modelgate.reason': 'no_credential', 'modelgate.limit.outcome': 'not_reached' });
    expect(anon.attributes).not.toHaveProperty('modelgate.subject.hash');
    // Only the stages it reached: identity answered (with no credential), nothing ran after it.
    expect(anon.events.map((e) => e.name)).toEqual(['modelgate.stage.identity']);
  });
});

describe('sampling and transports', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => receiver?.close());

  it('parentbased_traceidratio at 0: no root spans, but a sampled parent is still followed (OTLP/gRPC)', async () => {
    const t = await startTestGate(config(), {
      env: otelEnv(receiver, {
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.grpcPort}`,
        MODELGATE_TRACE_SUBJECT_HASH_KEY: 'k',
      }),
    });
    try {
      const roots = await Promise.all(Array.from({ length: 20 }, (_, i) => check(t, `ratio-root-${i}`)));
      expect(roots.every((line) => line.trace_id === undefined)).toBe(true);
      const line = await check(t, 'ratio-child', { metadata: { traceparent: traceparent(ENVOY_TRACE, ENVOY_SPAN) } });
      const span = await spanFor(receiver, 'ratio-child');
      expect(span.parentSpanId).toBe(ENVOY_SPAN);
      expect(span.attributes['modelgate.subject.hash']).toBe(`hmac-sha256:${createHmac('sha256', 'k').update(String(line.subject)).digest('hex')}`);
      expect(receiver.spans.filter((s) => String(s.attributes['modelgate.request_id']).startsWith('ratio-root-'))).toEqual([]);
      expect(receiver.requests.grpc).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });

  it('refuses to start on an OTEL_* value it cannot honour, naming the variable', async () => {
    await expect(startTestGate(config(), { env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER_ARG: 'x', OTEL_TRACES_SAMPLER: 'traceidratio' } })).rejects.toThrow(
      /environment: invalid configuration\n {2}OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, got 'x'/,
    );
  });

  it('a collector that is down changes no answer: checks are decided and logged, the failed export is warned about', async () => {
    const closed = await startOtlpReceiver();
    await closed.close();
    const t = await startTestGate(config(), { env: { ...otelEnv(receiver), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed.httpPort}`, OTEL_EXPORTER_OTLP_TIMEOUT: '500' } });
    try {
      const line = await check(t, 'down-1', { metadata: { traceparent: traceparent(ENVOY_TRACE, ENVOY_SPAN) } });
      expect(line).toMatchObject({ decision: 'allow', trace_id: ENVOY_TRACE });
      await expect.poll(() => t.logs.find((l) => l.msg === 'could not export trace spans'), { timeout: 15_000 }).toBeDefined();
    } finally {
      await t.close();
    }
  });

  it('HTTP authorization mode: the span continues the request traceparent', async () => {
    const t = await startTestGate(config('server: { http: { enabled: true, address: "127.0.0.1:0" } }'), { env: otelEnv(receiver) });
    try {
      const res = await fetch(`http://127.0.0.1:${t.gate.httpPort}/v1/models/fraud-detector:predict`, {
        method: 'POST',
        headers: { traceparent: traceparent(CLIENT_TRACE, CLIENT_SPAN), 'x-request-id': 'http-1' },
      });
      expect(res.status).toBe(401);
      const span = await spanFor(receiver, 'http-1');
      expect(span).toMatchObject({ traceId: CLIENT_TRACE, parentSpanId: CLIENT_SPAN, name: 'modelgate.check' });
      expect(span.attributes['modelgate.reason']).toBe('no_credential');
      expect(span.attributes).not.toHaveProperty('rpc.system');
    } finally {
      await t.close();
    }
  });
});
