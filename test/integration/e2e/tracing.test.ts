// Trace context through the real Envoy: a client's traceparent reaches modelgate and the decision
// line carries its trace id; with docs/envoy.md's OpenTelemetry tracer on, Envoy's own span context
// arrives in the gRPC call metadata and is the one logged, even when the client sent none. With
// modelgate's own tracing on too (docs/tracing.md), both export to one OTLP receiver and Envoy's
// ext_authz span is the parent of modelgate's check span.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVOY_BIN, ROOT, type Node } from '../../helpers/envoy.js';
import { startStack, type Stack } from '../../helpers/envoy-stack.js';
import { startOtlpReceiver, type OtlpReceiver } from '../../helpers/otlp-receiver.js';
import { e2eFixture, gateYaml } from '../../helpers/e2e/fixture.js';

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const traceparent = `00-${CLIENT_TRACE}-b7ad6b7169203331-01`;

/** The two YAML blocks of docs/envoy.md's "Tracing" section: the HCM `tracing` and the collector cluster. */
function tracingSnippets(): [Node, Node] {
  const doc = readFileSync(path.join(ROOT, 'docs/envoy.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### Tracing'), doc.indexOf('\n## ', doc.indexOf('### Tracing')));
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Node);
  if (blocks.length !== 2) throw new Error(`docs/envoy.md Tracing: expected 2 yaml blocks, found ${blocks.length}`);
  return [blocks[0]!, blocks[1]!];
}

async function decisionFor(stack: Stack, requestId: string) {
  await expect.poll(() => stack.gate!.logs.find((l) => l.msg === 'decision' && l.request_id === requestId)).toBeDefined();
  return stack.gate!.logs.find((l) => l.msg === 'decision' && l.request_id === requestId)!;
}

/** Sends one allowed call and returns what the upstream received and the matching decision line. */
async function traced(stack: Stack, headers: Record<string, string>) {
  const res = await stack.call('batch-scorer', '/v1/models/fraud-detector:predict', { method: 'POST', body: '{}', headers });
  expect(res.status).toBe(200);
  const received = stack.upstream.received.at(-1)!;
  const requestId = String(received.headers['x-request-id']);
  return { received, decision: await decisionFor(stack, requestId) };
}

describe.skipIf(!ENVOY_BIN)('trace context through Envoy', () => {
  describe('the shipped edge config (no tracer)', () => {
    let stack: Stack;
    beforeAll(async () => {
      const fx = await e2eFixture();
      stack = await startStack({ gateYaml: gateYaml(), gateFiles: fx.files, gateEnv: fx.env });
    });
    afterAll(async () => stack?.close());

    it("logs the client's trace id and shares Envoy's request id", async () => {
      const { received, decision } = await traced(stack, { traceparent });
      expect(received.headers.traceparent).toBe(traceparent);
      expect(decision.trace_id).toBe(CLIENT_TRACE);
      const logged = await stack.accessLogLine((l) => l.request_id === received.headers['x-request-id']);
      expect((logged.ext_authz as Record<string, unknown>).decision_id).toBe(decision.decision_id);
    });

    it('logs no trace id when nobody sent one', async () => {
      const { decision } = await traced(stack, {});
      expect(decision).not.toHaveProperty('trace_id');
    });
  });

  describe("docs/envoy.md's OpenTelemetry tracer, and modelgate's, exporting to one OTLP receiver", () => {
    let stack: Stack;
    let receiver: OtlpReceiver;
    beforeAll(async () => {
      const fx = await e2eFixture();
      const [tracing, cluster] = tracingSnippets();
      receiver = await startOtlpReceiver();
      const collector = { address: '127.0.0.1', port: receiver.grpcPort };
      stack = await startStack({
        gateYaml: gateYaml(),
        gateFiles: fx.files,
        gateEnv: {
          ...fx.env,
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.grpcPort}`,
          OTEL_BSP_SCHEDULE_DELAY: '50',
        },
        transform: (doc) => {
          Object.assign(doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config, tracing);
          doc.static_resources.clusters.push(cluster);
        },
        extraClusters: { otel_collector: collector },
      });
    });
    afterAll(async () => {
      await stack?.close();
      await receiver?.close();
    });

    it("continues the client's trace: same trace id at modelgate and upstream, Envoy's own spans", async () => {
      const { received, decision } = await traced(stack, { traceparent });
      expect(decision.trace_id).toBe(CLIENT_TRACE);
      const upstream = String(received.headers.traceparent);
      expect(upstream).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));
      expect(upstream).not.toBe(traceparent);
    });

    it('logs the trace Envoy started when the client sent none: it came in the gRPC call metadata', async () => {
      const { received, decision } = await traced(stack, {});
      const upstreamTrace = /^00-([0-9a-f]{32})-/.exec(String(received.headers.traceparent))?.[1];
      expect(upstreamTrace).toBeDefined();
      expect(decision.trace_id).toBe(upstreamTrace);
    });

    it("makes Envoy's ext_authz span the parent of modelgate's check span", async () => {
      const { decision } = await traced(stack, { traceparent });
      const requestId = String(decision.request_id);
      // Envoy flushes its spans on a timer (5 s by default): wait for both sides to arrive.
      const ours = () => receiver.spans.find((s) => s.service === 'modelgate' && s.attributes['modelgate.request_id'] === requestId);
      await expect.poll(ours, { timeout: 20_000, interval: 200 }).toBeDefined();
      const check = ours()!;
      const parent = () => receiver.spans.find((s) => s.service === 'modelgate-edge' && s.spanId === check.parentSpanId);
      await expect.poll(parent, { timeout: 20_000, interval: 200 }).toBeDefined();
      expect(check.traceId).toBe(CLIENT_TRACE);
      expect(decision.trace_id).toBe(check.traceId);
      expect(parent()).toMatchObject({ traceId: CLIENT_TRACE, kind: 3 }); // SPAN_KIND_CLIENT: Envoy's gRPC call to modelgate
      // The whole chain in one trace: client span → Envoy ingress → Envoy's ext_authz call → modelgate.
      expect(parent()!.name).toBe('async envoy.service.auth.v3.Authorization.Check egress');
      // Envoy ends (and exports) its ingress span only after the response: it may come in a later flush.
      const ingress = () => receiver.spans.find((s) => s.spanId === parent()!.parentSpanId);
      await expect.poll(ingress, { timeout: 20_000, interval: 200 }).toBeDefined();
      expect(ingress()).toMatchObject({ service: 'modelgate-edge', name: 'ingress', parentSpanId: 'b7ad6b7169203331' });
      expect(check.attributes).toMatchObject({ 'modelgate.decision': 'allow', 'gen_ai.request.model': 'fraud-detector', 'rpc.method': 'Check' });
    });
  });
});
