// The HTTP mode's own failure answer (no answer could be built or encoded): the configured
// on_error status with the deny body from the reason table, byte for byte the body a decided
// internal_error deny has, quoting the request id the check ran under (generated when the proxy
// sent none), and nginx's copy of it in x-modelgate-deny-body.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authorizer, CheckOutcome } from '../../../src/check/authorizer-port.js';
import type { CheckInput } from '../../../src/check/check-input.js';
import { configSchema, type Config } from '../../../src/config/schema.js';
import { answerBuilder } from '../../../src/decision/answer.js';
import { startHttpAuthzServer, type HttpAuthzServerHandle } from '../../../src/http/authz-server.js';

const config: Config = configSchema.parse({
  server: { http: { enabled: true, address: '127.0.0.1:0' }, on_error: { http_status: 599 } },
  policy: { roles: {}, rules: [] },
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The body a decided internal_error deny carries (the answer builder, from the reason table). */
const decidedBody = (requestId: string) =>
  answerBuilder(config.answer, [], config.server.on_error.http_status)({ allowed: false, reason: 'internal_error', shadowRules: [] }, { decisionId: 'd', requestId }).body;

/** What the fake authorizer (the transport's port) does: reject, or answer with headers no encoder accepts. */
let mode: 'reject' | 'unencodable' = 'reject';
const seen: Array<CheckInput | undefined> = [];
const authorize: Authorizer = (input) => {
  seen.push(input);
  if (mode === 'reject') return Promise.reject(new Error('answer builder bug'));
  const outcome = { answer: { allowed: false, httpStatus: 403, clientHeaders: null }, finish: () => undefined } as unknown as CheckOutcome;
  return Promise.resolve(outcome);
};

let server: HttpAuthzServerHandle;
const reported: string[] = [];

beforeAll(async () => {
  server = await startHttpAuthzServer({ config: config.server, authorize, identityHeaders: () => [], onError: (_e, phase) => reported.push(phase) });
});
afterAll(() => server?.shutdown(0));

async function call(headers: Record<string, string> = {}) {
  seen.length = 0;
  reported.length = 0;
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/models/churn:predict`, { method: 'POST', headers });
  return { status: res.status, contentType: res.headers.get('content-type'), copy: res.headers.get('x-modelgate-deny-body'), body: await res.text() };
}

describe('HTTP mode failure answer', () => {
  it('an authorizer that rejects: on_error status, the reason table body with the proxy request id', async () => {
    mode = 'reject';
    const res = await call({ 'x-request-id': 'req-42' });
    expect(res.status).toBe(599);
    expect(res.contentType).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ error: 'unavailable', reason: 'internal_error', request_id: 'req-42' });
    expect(res.body).toBe(decidedBody('req-42'));
    expect(res.copy).toBe(res.body);
    expect(reported).toEqual(['answer']);
  });

  it('no x-request-id from the proxy: the id the check ran under, a generated one, never empty', async () => {
    mode = 'reject';
    const first = await call();
    const ranUnder = seen[0]?.requestId;
    expect(ranUnder).toMatch(UUID);
    expect(JSON.parse(first.body)).toEqual({ error: 'unavailable', reason: 'internal_error', request_id: ranUnder });
    const second = await call();
    expect(JSON.parse(second.body).request_id).not.toBe(ranUnder);
  });

  it('an answer that cannot be encoded: the same body, with the decoded request id', async () => {
    mode = 'unencodable';
    const res = await call({ 'x-request-id': 'req-43' });
    expect(res.status).toBe(599);
    expect(res.body).toBe(decidedBody('req-43'));
    expect(reported).toEqual(['encode']);
  });

  it('a request the decoder cannot describe (nginx style without the method header) still quotes a request id', async () => {
    mode = 'reject';
    const res = await call({ 'x-original-uri': '/v1/models/churn:predict' });
    expect(seen).toEqual([undefined]);
    expect(JSON.parse(res.body).request_id).toMatch(UUID);
  });
});
