// The decision line carries the trace id: from the gRPC call metadata (where Envoy's gRPC client puts
// its own span) before the CheckRequest's headers (what the client sent), over a real socket.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const config = `
identity:
  order: [mtls]
  mtls:
    sources: [principal]
    workloads: [{ match: 'spiffe://t/analyst', roles: [analyst] }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
`;

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const ENVOY_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = (id: string) => `00-${id}-b7ad6b7169203331-01`;

describe('trace id in the decision log', () => {
  let t: TestGate;
  beforeAll(async () => {
    t = await startTestGate(config);
  });
  afterAll(async () => t.close());

  async function decisionFor(requestId: string, headers: Record<string, string>, metadata?: grpc.Metadata) {
    await t.client.check(envoyCheckRequest({ requestId, principal: 'spiffe://t/analyst', headers }), 5000, metadata);
    await expect.poll(() => t.logs.find((l) => l.msg === 'decision' && l.request_id === requestId)).toBeDefined();
    return t.logs.find((l) => l.msg === 'decision' && l.request_id === requestId)!;
  }

  it('takes the call metadata first', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', traceparent(ENVOY_TRACE));
    const line = await decisionFor('trace-1', { traceparent: traceparent(CLIENT_TRACE) }, metadata);
    expect(line.trace_id).toBe(ENVOY_TRACE);
  });

  it('falls back to the request headers', async () => {
    const line = await decisionFor('trace-2', { traceparent: traceparent(CLIENT_TRACE) });
    expect(line.trace_id).toBe(CLIENT_TRACE);
  });

  it('leaves the field out when neither carries a valid trace', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', 'garbage');
    const line = await decisionFor('trace-3', { traceparent: '00-zz-yy-01' }, metadata);
    expect(line).not.toHaveProperty('trace_id');
  });
});
