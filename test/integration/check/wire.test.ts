// What Envoy receives, read back from the raw response bytes; and bad requests of every shape, after
// which the server must still answer.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { decodeCheckResponse, encodeCheckRequest, rawCheck } from '../../helpers/envoy-wire.js';

const config = `
identity:
  order: [mtls]
  mtls:
    sources: [principal]
    workloads:
      - { match: 'spiffe://t/analyst', roles: [analyst], attributes: { org: acme } }
      - { match: 'spiffe://t/no-tenant', roles: [analyst] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets:
    paths: [{ pattern: '/v1/models/{model}:predict', action: predict }]
`;

describe('the answer on the wire', () => {
  let t: TestGate;
  let raw: grpc.Client;
  const rawCall = (bytes: Buffer) => rawCheck(raw, bytes);
  const encode = encodeCheckRequest;

  beforeAll(async () => {
    t = await startTestGate(config);
    raw = new grpc.Client(t.address, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    raw.close();
    await t.close();
  });

  it('allow: OVERWRITE_IF_EXISTS_OR_ADD on every identity header, credentials removed, metadata as Struct strings', async () => {
    const bytes = await rawCall(encode(envoyCheckRequest({ principal: 'spiffe://t/analyst', requestId: 'req-1', headers: { 'x-modelgate-subject': 'forged' } })));
    const res = decodeCheckResponse(bytes);
    expect(res.status?.code ?? 0).toBe(0);
    const ok = res.ok_response;
    expect(ok.headers.map((h: any) => h.append_action)).toEqual(Array(ok.headers.length).fill('OVERWRITE_IF_EXISTS_OR_ADD'));
    const headers = Object.fromEntries(ok.headers.map((h: any) => [h.header.key, h.header.value]));
    expect(headers['x-modelgate-subject']).toBe('mtls:spiffe://t/analyst');
    expect(headers['x-modelgate-tenant']).toBe('acme');
    expect(ok.headers_to_remove ?? []).not.toContain('x-modelgate-tenant');
    const fields = res.dynamic_metadata.fields;
    expect(fields.subject.stringValue).toBe('mtls:spiffe://t/analyst');
    expect(fields.decision.stringValue).toBe('allow');
    expect(fields.reason.stringValue).toBe('allowed');
    expect(fields.request_id.stringValue).toBe('req-1');
    expect(fields.rule_id.stringValue).toBe('analysts');
    expect(fields.model.stringValue).toBe('fraud-detector');
  });

  it('deny: gRPC code, HTTP status, JSON body and headers in denied_response, metadata still filled', async () => {
    const res = decodeCheckResponse(await rawCall(encode(envoyCheckRequest({ requestId: 'req-2' }))));
    expect(res.status.code).toBe(16);
    expect(res.denied_response.status.code).toBe('Unauthorized');
    expect(JSON.parse(res.denied_response.body)).toEqual({ error: 'unauthenticated', reason: 'no_credential', request_id: 'req-2' });
    const headers = Object.fromEntries(res.denied_response.headers.map((h: any) => [h.header.key, h.header.value]));
    expect(headers['www-authenticate']).toBe('Bearer realm="modelgate"');
    expect(headers['content-type']).toBe('application/json');
    expect(res.dynamic_metadata.fields.decision.stringValue).toBe('deny');
    expect(res.ok_response).toBeUndefined();
  });

  it('allow without a tenant removes a client-sent tenant header instead of letting it through', async () => {
    const res = decodeCheckResponse(await rawCall(encode(envoyCheckRequest({ principal: 'spiffe://t/no-tenant', headers: { 'x-modelgate-tenant': 'forged' } }))));
    expect(res.status?.code ?? 0).toBe(0);
    expect(res.ok_response.headers.map((h: any) => h.header.key)).not.toContain('x-modelgate-tenant');
    expect(res.ok_response.headers_to_remove).toContain('x-modelgate-tenant');
  });

  describe('bad input gets a deliberate deny and the server keeps answering', () => {
    it('an empty CheckRequest', async () => {
      const res = decodeCheckResponse(await rawCall(Buffer.alloc(0)));
      expect(res.status.code).toBe(3);
      expect(res.denied_response.status.code).toBe('BadRequest');
      expect(res.dynamic_metadata.fields.reason.stringValue).toBe('request_invalid');
    });

    it('attributes without http', async () => {
      const res = decodeCheckResponse(await rawCall(encode({ attributes: { source: { principal: 'spiffe://t/analyst' } } })));
      expect(res.dynamic_metadata.fields.reason.stringValue).toBe('request_invalid');
    });

    it('bytes that are not protobuf, and a request cut short: a request_invalid deny, not a gRPC error', async () => {
      const whole = encode(envoyCheckRequest({ principal: 'spiffe://t/analyst', requestId: 'req-cut' }));
      for (const bytes of [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), whole.subarray(0, whole.length - 3), Buffer.from([0x0a, 0x80])]) {
        const res = decodeCheckResponse(await rawCall(bytes));
        expect(res.status.code).toBe(3);
        expect(res.denied_response.status.code).toBe('BadRequest');
        expect(res.dynamic_metadata.fields.reason.stringValue).toBe('request_invalid');
      }
    });

    it('64 KB of headers', async () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < 64; i++) headers[`x-big-${i}`] = 'v'.repeat(1024);
      const res = decodeCheckResponse(await rawCall(encode(envoyCheckRequest({ principal: 'spiffe://t/analyst', headers }))));
      expect(res.status?.code ?? 0).toBe(0);
      const huge = decodeCheckResponse(await rawCall(encode(envoyCheckRequest({ headers: { authorization: `Bearer ${'a'.repeat(65_536)}` } }))));
      expect(huge.status.code).toBe(16);
    });

    it('non-UTF-8 bytes in header values and the path', async () => {
      const bytes = encode(envoyCheckRequest({ principal: 'spiffe://t/analyst', headers: { 'x-odd': 'MARKMARK' } }));
      const at = bytes.indexOf('MARKMARK');
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28]).copy(bytes, at);
      const res = decodeCheckResponse(await rawCall(bytes));
      expect(res.status?.code ?? 0).toBe(0);
    });

    it('still answers a normal request', async () => {
      const res = await t.client.check(envoyCheckRequest({ principal: 'spiffe://t/analyst' }));
      expect(res.status.code).toBe(0);
    });
  });
});
