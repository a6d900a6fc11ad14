// The Process handler over a real gRPC socket: in-order replies, metadata on the last one, exactly one settlement.

import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PbProcessingRequest, PbProcessingResponse } from '../../../src/extproc/messages.js';
import { extProcMetrics } from '../../../src/extproc/metrics.js';
import { addExtProcService } from '../../../src/extproc/service.js';
import type { SettleRequest, Settler } from '../../../src/extproc/settler.js';
import { externalProcessorServiceDefinition } from '../../../src/grpc/protos.js';
import { jsonToStruct, structToJson } from '../../../src/grpc/struct.js';

const registry = new Registry();
const calls: SettleRequest[] = [];
let settlerMode: 'ok' | 'throw' | 'reject' = 'ok';
const settler: Settler = {
  settle(r) {
    calls.push(r);
    if (settlerMode === 'throw') throw new Error('sync bug');
    if (settlerMode === 'reject') return Promise.reject(new Error('redis down'));
    return Promise.resolve({ outcome: 'settled' });
  },
};

let server: grpc.Server;
let client: grpc.Client & { Process(): grpc.ClientDuplexStream<PbProcessingRequest, PbProcessingResponse> };

beforeAll(async () => {
  server = new grpc.Server();
  addExtProcService(server, { config: () => undefined, settler, metrics: extProcMetrics(registry), logger: pino({ level: 'silent' }), now: () => 42 });
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  const Client = grpc.makeGenericClientConstructor(externalProcessorServiceDefinition() as grpc.ServiceDefinition, 'ExternalProcessor');
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
});
afterAll(() => {
  client?.close();
  server?.forceShutdown();
});

const metadata = { filter_metadata: { 'envoy.filters.http.ext_authz': jsonToStruct({ subject: 's', request_id: 'r', reservation_id: 'res' }) } };
const requestHeaders: PbProcessingRequest = { request_headers: { headers: { headers: [] } }, metadata_context: metadata };
const responseHeaders: PbProcessingRequest = {
  response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }, { key: 'content-type', raw_value: Buffer.from('application/json') }] } },
};
const body = (text: string, end: boolean): PbProcessingRequest => ({ response_body: { body: Buffer.from(text), end_of_stream: end } });

/** Opens a stream, sends `messages` one reply at a time, returns the replies (and the open stream). */
async function exchange(messages: PbProcessingRequest[]) {
  const stream = client.Process();
  const replies: PbProcessingResponse[] = [];
  const ended = new Promise<void>((resolve) => stream.on('end', resolve).on('error', () => resolve()));
  for (const m of messages) {
    const reply = new Promise<PbProcessingResponse>((resolve) => stream.once('data', resolve));
    stream.write(m);
    replies.push(await reply);
  }
  return { stream, replies, ended };
}

async function settledCount(n: number): Promise<void> {
  while (calls.length < n) await new Promise((r) => setTimeout(r, 5));
}

describe('ExternalProcessor/Process', () => {
  it('answers in order, puts the metadata on the last reply, settles once', async () => {
    const before = calls.length;
    const { stream, replies, ended } = await exchange([requestHeaders, responseHeaders, body('{"usage":{"prompt_tokens":2,', false), body('"completion_tokens":3}}', true)]);
    expect(replies.map((r) => Object.keys(r).find((k) => k !== 'dynamic_metadata' && (r as Record<string, unknown>)[k] !== null))).toEqual([
      'request_headers', 'response_headers', 'response_body', 'response_body',
    ]);
    expect(replies[2]!.dynamic_metadata).toBeFalsy();
    expect(structToJson(replies[3]!.dynamic_metadata)['envoy.filters.http.ext_proc']).toMatchObject({ usage_source: 'body', usage_input_tokens: 2, reservation_id: 'res' });
    stream.end();
    await ended;
    await settledCount(before + 1);
    expect(calls.slice(before)).toEqual([{ reservationId: 'res', usage: { inputTokens: 2, outputTokens: 3, cachedInputTokens: 0 }, failed: false, now: 42 }]);
  });

  it('a stream cancelled mid-body settles once, as failed', async () => {
    const before = calls.length;
    const { stream } = await exchange([requestHeaders, responseHeaders, body('{"partial":', false)]);
    stream.cancel();
    await settledCount(before + 1);
    expect(calls.slice(before)).toEqual([{ reservationId: 'res', usage: undefined, failed: true, now: 42 }]);
  });

  it.each(['throw', 'reject'] as const)('a settler that %ss is counted as rejected; the stream still completes', async (mode) => {
    settlerMode = mode;
    try {
      const before = calls.length;
      const { stream, ended } = await exchange([requestHeaders, responseHeaders, body('{}', true)]);
      stream.end();
      await ended;
      await settledCount(before + 1);
      let text = '';
      while (!/outcome="rejected"/.test(text)) text = await registry.getSingleMetricAsString('modelgate_extproc_settlements_total');
      expect(calls).toHaveLength(before + 1);
    } finally {
      settlerMode = 'ok';
    }
  });
});
