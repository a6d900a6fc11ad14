import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EXT_PROC, extProcSchema } from '../../../src/extproc/config.js';
import { Exchange } from '../../../src/extproc/exchange.js';
import type { PbProcessingRequest } from '../../../src/extproc/messages.js';
import { endMetadata } from '../../../src/extproc/metadata.js';
import { passThrough, type BodyTransformer } from '../../../src/extproc/transform.js';
import { jsonToStruct, structToJson } from '../../../src/grpc/struct.js';

const AUTHZ = { subject: 'jwt:test:dana', roles: 'a,b', model: 'gpt-x', request_id: 'req-1', reservation_id: 'res-9', decision: 'allow' };
const metadata = (ns: Record<string, unknown> = AUTHZ) => ({ filter_metadata: { 'envoy.filters.http.ext_authz': jsonToStruct(ns) } });
const headers = (h: Record<string, string>, end = false): PbProcessingRequest => ({
  request: 'response_headers',
  response_headers: { headers: { headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) }, end_of_stream: end },
});
const body = (text: string, end = false): PbProcessingRequest => ({ request: 'response_body', response_body: { body: Buffer.from(text), end_of_stream: end } });
const USAGE_JSON = '{"usage":{"prompt_tokens":3,"completion_tokens":4}}';

function start(transformers = passThrough, config = DEFAULT_EXT_PROC): Exchange {
  const x = new Exchange(config, transformers);
  const step = x.handle({ request: 'request_headers', request_headers: { headers: { headers: [] } }, metadata_context: metadata() });
  expect(step).toEqual({ reply: { request_headers: { response: {} } } });
  return x;
}

describe('Exchange', () => {
  it('a JSON answer in pieces: continues each, ends on the last with usage, hash and the caller', () => {
    const x = start();
    expect(x.handle(headers({ ':status': '200', 'content-type': 'application/json; charset=utf-8' }))).toEqual({ reply: { response_headers: { response: {} } } });
    expect(x.handle(body(USAGE_JSON.slice(0, 10)))).toEqual({ reply: { response_body: { response: {} } } });
    const last = x.handle(body(USAGE_JSON.slice(10), true));
    expect(last.reply).toEqual({ response_body: { response: {} } });
    expect(last.end).toMatchObject({
      kind: 'body',
      status: 200,
      failed: false,
      usage: { inputTokens: 3, outputTokens: 4, cachedInputTokens: 0 },
      usageSource: 'body',
      outputSha256: createHash('sha256').update(USAGE_JSON).digest('hex'),
      caller: { subject: 'jwt:test:dana', roles: ['a', 'b'], model: 'gpt-x', requestId: 'req-1', reservationId: 'res-9' },
    });
    expect(x.abort()).toBeUndefined();
  });

  it('headers with end_of_stream end the exchange (no body)', () => {
    const x = start();
    const step = x.handle(headers({ ':status': '204' }, true));
    // The model sent zero bytes: the hash of the empty output.
    expect(step.end).toMatchObject({ kind: 'headers', status: 204, failed: false, usageSource: 'none', outputSha256: createHash('sha256').digest('hex') });
  });

  it('a 5xx is failed; a stream that ends early is failed and cancelled', () => {
    const x = start();
    x.handle(headers({ ':status': '503', 'content-type': 'application/json' }));
    expect(x.handle(body('{}', true)).end).toMatchObject({ failed: true, status: 503 });
    const y = start();
    y.handle(headers({ ':status': '200', 'content-type': 'text/event-stream' }));
    y.handle(body('data: {"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n'));
    expect(y.abort()).toMatchObject({ kind: 'cancelled', failed: true });
    expect(y.abort()).toBeUndefined();
  });

  it('a JSON body over max_body_bytes: no usage (not even from headers), still hashed', () => {
    const config = extProcSchema.parse({ max_body_bytes: 1024, usage_headers: { input: 'x-in', output: 'x-out' } });
    const x = start(passThrough, config);
    x.handle(headers({ ':status': '200', 'content-type': 'application/json', 'x-in': '1', 'x-out': '2' }));
    x.handle(body(`{"pad":"${'x'.repeat(2000)}",`));
    const end = x.handle(body('"usage":{"prompt_tokens":3,"completion_tokens":4}}', true)).end!;
    expect(end).toMatchObject({ usage: undefined, usageSource: 'none', overflowed: true });
    expect(end.outputSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('usage headers are the fallback when the body has none', () => {
    const config = extProcSchema.parse({ usage_headers: { input: 'x-in', output: 'x-out' } });
    const x = start(passThrough, config);
    x.handle(headers({ ':status': '200', 'content-type': 'text/plain', 'x-in': '5', 'x-out': '6' }));
    expect(x.handle(body('hi', true)).end).toMatchObject({ usage: { inputTokens: 5, outputTokens: 6 }, usageSource: 'headers' });
  });

  it('without ext_authz metadata: no caller; forged identity headers never reach the transformer', () => {
    const views: unknown[] = [];
    const x = new Exchange(DEFAULT_EXT_PROC, (view) => {
      views.push(view);
      return undefined;
    });
    x.handle(headers({ ':status': '200', 'x-modelgate-subject': 'forged', 'x-modelgate-roles': 'admin', 'x-modelgate-reservation': 'forged' }));
    expect(x.handle(body('x', true)).end).toMatchObject({ caller: undefined });
    expect(views).toEqual([{ subject: '', roles: [], model: '', contentType: '', contentEncoding: 'identity' }]);
  });

  it('a transformer replaces every chunk, drops content-length, and its counts are reported', () => {
    const upper: BodyTransformer & { counts: Record<string, number> } = {
      counts: { email: 0 },
      push(chunk) {
        this.counts.email! += 1;
        return Buffer.from(chunk.toString().toUpperCase());
      },
    };
    const x = start(() => upper);
    expect(x.handle(headers({ ':status': '200', 'content-type': 'application/json', 'content-length': '5' })).reply).toEqual({
      response_headers: { response: { header_mutation: { remove_headers: ['content-length'] } } },
    });
    expect(x.handle(body('ab')).reply).toEqual({ response_body: { response: { body_mutation: { body: Buffer.from('AB') } } } });
    const last = x.handle(body('c', true));
    expect(last.reply.response_body?.response.body_mutation?.body.toString()).toBe('C');
    expect(last.end?.masked).toEqual({ email: 2 });
  });

  it('answers request body, trailers and unknown messages so Envoy never waits', () => {
    const x = start();
    expect(x.handle({ request: 'request_body', request_body: { body: Buffer.from('x') } }).reply).toEqual({ request_body: { response: {} } });
    expect(x.handle({ request: 'request_trailers' }).reply).toEqual({ request_trailers: {} });
    expect(x.handle({}).reply).toEqual({});
    expect(x.handle({ request: 'response_trailers' }).end).toMatchObject({ kind: 'trailers' });
  });
});

describe('endMetadata', () => {
  it('writes the fields under the namespace; bad mask kinds are dropped', () => {
    const x = start();
    x.handle(headers({ ':status': '200', 'content-type': 'application/json' }));
    const end = { ...x.handle(body(USAGE_JSON, true)).end!, masked: { email: 2, 'bad kind': 1, card: 0, zip: -1 } };
    const json = structToJson(endMetadata(end, 'envoy.filters.http.ext_proc'));
    expect(json).toEqual({
      'envoy.filters.http.ext_proc': {
        usage_source: 'body',
        upstream_failed: false,
        usage_input_tokens: 3,
        usage_output_tokens: 4,
        usage_cached_input_tokens: 0,
        output_sha256: end.outputSha256,
        reservation_id: 'res-9',
        masked_email: 2,
      },
    });
  });

  it('carries the usage cost when one is priced, and only a safe integer', () => {
    const x = start();
    x.handle(headers({ ':status': '200', 'content-type': 'application/json' }));
    const end = x.handle(body(USAGE_JSON, true)).end!;
    const ns = (cost?: number) => structToJson(endMetadata(end, 'ns', cost)).ns as Record<string, unknown>;
    expect(ns(1234).cost_micro_units).toBe(1234);
    expect(ns(undefined)).not.toHaveProperty('cost_micro_units');
    expect(ns(1.5)).not.toHaveProperty('cost_micro_units');
  });
});

describe('Exchange, fail-closed transformer choices', () => {
  const seen: Array<{ subject: string; roles: readonly string[] }> = [];
  const upper = (view: { subject: string; roles: readonly string[] }): BodyTransformer => {
    seen.push({ subject: view.subject, roles: view.roles });
    return { counts: {}, push: (chunk) => Buffer.from(chunk.toString('utf8').toUpperCase()) };
  };

  it('without ext_authz metadata the transformer still runs, for a caller with no roles', () => {
    seen.length = 0;
    const x = new Exchange(DEFAULT_EXT_PROC, upper);
    x.handle({ request: 'request_headers', request_headers: { headers: { headers: [] } } });
    x.handle(headers({ ':status': '200', 'content-type': 'application/json' }));
    const last = x.handle(body('{"a":"secret"}', true));
    expect(seen).toEqual([{ subject: '', roles: [] }]);
    expect(last.reply.response_body?.response?.body_mutation?.body?.toString()).toBe('{"A":"SECRET"}');
  });

  it('a compressed body: the transformer is told the encoding, and the encoding header leaves with its bytes', () => {
    const encodings: string[] = [];
    const x = start((view) => (encodings.push(view.contentEncoding), { counts: { body_withheld: 1 }, push: (_c, end) => Buffer.from(end ? '{"error":{}}' : '') }));
    const step = x.handle(headers({ ':status': '200', 'content-type': 'application/json', 'content-encoding': 'GZIP' }));
    expect(encodings).toEqual(['gzip']);
    expect(step.reply.response_headers?.response?.header_mutation?.remove_headers).toEqual(['content-length', 'content-encoding']);
    expect(x.handle(body('\x1f\x8b compressed bytes')).reply.response_body?.response?.body_mutation?.body?.length).toBe(0);
    const last = x.handle(body(' more', true));
    expect(last.reply.response_body!.response!.body_mutation!.body!.toString()).toBe('{"error":{}}');
    expect(last.end?.masked).toEqual({ body_withheld: 1 });
  });

  it('a compressed body with no transformer passes untouched', () => {
    const x = start();
    const step = x.handle(headers({ ':status': '200', 'content-type': 'application/json', 'content-encoding': 'gzip' }));
    expect(step.reply).toEqual({ response_headers: { response: {} } });
  });
});
