// Usage, output hash and settlement of LLM responses through the shipped edge Envoy's ext_proc filter.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeFileLine } from '../../../src/audit/normalize-file.js';
import { testPrivacy } from '../../helpers/audit/fixtures.js';
import { ENVOY_BIN } from '../../helpers/envoy.js';
import { FRONTEND } from '../../helpers/e2e/fixture.js';
import { GATE_YAML, RecordingSettler, startLlmStack, withReservation, type LlmStack, type StreamedReply } from '../../helpers/llm-stack.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const CHAT = { model: 'gpt-test', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 20 };

describe.skipIf(!ENVOY_BIN)('ext_proc usage through the edge Envoy', () => {
  const settler = new RecordingSettler();
  let stack: LlmStack;

  beforeAll(async () => {
    const gateYaml = `${GATE_YAML}\next_proc: { max_body_bytes: 65536, usage_headers: { input: x-usage-input-tokens, output: x-usage-output-tokens } }\n`;
    stack = await startLlmStack({ gateYaml, settler, transform: withReservation('res-1') });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('reads usage from a JSON answer, settles it, and logs usage and the output hash', async () => {
    const before = settler.calls.length;
    const reply = await stack.chat(CHAT, { usage: { prompt_tokens: 11, completion_tokens: 7, cached_tokens: 3 } });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(stack.fake.sent.at(-1));
    const [call] = (await settler.settled(before + 1)).slice(before);
    expect(call).toMatchObject({ reservationId: 'res-1', failed: false, usage: { inputTokens: 11, outputTokens: 7, cachedInputTokens: 3 } });
    const line = await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(reply.body));
    expect(line.ext_proc).toMatchObject({ usage_source: 'body', usage_input_tokens: 11, usage_output_tokens: 7, usage_cached_input_tokens: 3, reservation_id: 'res-1', upstream_failed: false });
    expect((line.ext_authz as Record<string, unknown>).subject).toBe(`mtls:${FRONTEND}`);
    // The audit file ingester turns Envoy's line into a record carrying both namespaces.
    const record = normalizeFileLine(JSON.stringify(line), { kind: 'envoy_file', id: 'access.log', file: '1:1', offset: 1 }, testPrivacy());
    expect(record.ok && record.record).toMatchObject({
      subject: `mtls:${FRONTEND}`,
      model: 'gpt-test',
      llm: { usage_source: 'body', input_tokens: 11, output_tokens: 7, cached_input_tokens: 3, output_sha256: sha256(reply.body), reservation_id: 'res-1' },
    });
  });

  /** The settlement asked for by the next exchange `run` starts. */
  async function nextSettlement(run: () => Promise<unknown>) {
    const before = settler.calls.length;
    const result = await run();
    const calls = await settler.settled(before + 1);
    expect(calls).toHaveLength(before + 1);
    return { result, call: calls[before]! };
  }

  it('reads usage from the last SSE chunk when chunk boundaries split lines and UTF-8 characters', async () => {
    const body = { ...CHAT, stream: true, stream_options: { include_usage: true } };
    const { result, call } = await nextSettlement(() =>
      stack.chat(body, { chunkBytes: 7, content: 'héllo wörld ✓ ünïcode', usage: { prompt_tokens: 40, completion_tokens: 9 } }),
    );
    const sent = stack.fake.sent.at(-1)!;
    const reply = result as StreamedReply;
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/event-stream');
    expect(reply.body).toEqual(sent);
    expect(call).toMatchObject({ failed: false, usage: { inputTokens: 40, outputTokens: 9, cachedInputTokens: 0 } });
    const line = await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(sent));
    expect(line.ext_proc).toMatchObject({ usage_source: 'sse', usage_input_tokens: 40, usage_output_tokens: 9 });
  });

  it('a stream without include_usage settles with usage undefined (the input cost)', async () => {
    const { call } = await nextSettlement(() => stack.chat({ ...CHAT, stream: true }, { chunkBytes: 50 }));
    expect(call).toMatchObject({ reservationId: 'res-1', failed: false, usage: undefined });
    const line = await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(stack.fake.sent.at(-1)!));
    expect(line.ext_proc).toMatchObject({ usage_source: 'none' });
    expect(line.ext_proc).not.toHaveProperty('usage_input_tokens');
  });

  it('falls back to the configured usage headers when the body has no usage', async () => {
    const headers = { 'x-usage-input-tokens': '21', 'x-usage-output-tokens': '4' };
    const { call } = await nextSettlement(() => stack.chat(CHAT, { usage: null, headers }));
    expect(call).toMatchObject({ failed: false, usage: { inputTokens: 21, outputTokens: 4, cachedInputTokens: 0 } });
  });

  it('a JSON answer beyond max_body_bytes and Envoy\'s listener buffer passes whole, hashed, with usage none', async () => {
    const { result, call } = await nextSettlement(() => stack.chat(CHAT, { content: 'x', repeat: 1_200_000 }));
    const reply = result as StreamedReply;
    const sent = stack.fake.sent.at(-1)!;
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(sent.length);
    expect(reply.body.equals(sent)).toBe(true);
    expect(call).toMatchObject({ failed: false, usage: undefined });
    const line = await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(sent));
    expect(line.ext_proc).toMatchObject({ usage_source: 'none' });
  });

  it('an upstream 500 settles as failed', async () => {
    const { result: reply, call } = await nextSettlement(() => stack.chat(CHAT, { status: 500 }));
    expect((reply as { status: number }).status).toBe(500);
    expect(call).toMatchObject({ reservationId: 'res-1', failed: true, usage: undefined });
  });

  it('an upstream reset mid-stream settles as failed', async () => {
    const body = { ...CHAT, stream: true, stream_options: { include_usage: true } };
    const { call } = await nextSettlement(() => stack.chat(body, { chunkBytes: 40, resetAfterBytes: 120 }).catch((e: unknown) => e));
    expect(call).toMatchObject({ reservationId: 'res-1', failed: true });
  });

  it('a client that cancels mid-stream is settled as failed', async () => {
    const body = { ...CHAT, stream: true, stream_options: { include_usage: true } };
    const before = settler.calls.length;
    const { res, first } = await stack.chatOpen(body, { chunkBytes: 30, stallAfterBytes: 90 });
    expect(first.length).toBeGreaterThan(0);
    res.destroy();
    const calls = await settler.settled(before + 1);
    expect(calls[before]).toMatchObject({ reservationId: 'res-1', failed: true, usage: undefined });
    // The fake's response ends too: Envoy reset the upstream request.
    await stack.fake.closedResponses(stack.fake.sent.length);
  });

  it('a settler that rejects is counted, never unhandled, and the client still gets its answer', async () => {
    settler.reply = () => Promise.reject(new Error('redis down'));
    try {
      const { result: reply } = await nextSettlement(() => stack.chat(CHAT));
      expect((reply as { status: number }).status).toBe(200);
      const metrics = await stack.gate.metrics.registry.getSingleMetricAsString('modelgate_extproc_settlements_total');
      expect(metrics).toMatch(/outcome="rejected"} [1-9]/);
    } finally {
      settler.reply = () => Promise.resolve({ outcome: 'settled' });
    }
  });
});

describe.skipIf(!ENVOY_BIN)('ext_proc without a reservation', () => {
  const settler = new RecordingSettler();
  let stack: LlmStack;

  beforeAll(async () => {
    stack = await startLlmStack({ settler });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('settles nothing, whatever reservation header the client sends', async () => {
    const reply = await stack.chat(CHAT, undefined, { headers: { 'x-modelgate-reservation': 'forged', 'x-modelgate-subject': 'admin' } });
    expect(reply.status).toBe(200);
    const line = await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(reply.body));
    expect(line.ext_proc).toMatchObject({ usage_source: 'body' });
    expect(line.ext_proc).not.toHaveProperty('reservation_id');
    expect(settler.calls).toEqual([]);
    const metrics = await stack.gate.metrics.registry.getSingleMetricAsString('modelgate_extproc_settlements_total');
    expect(metrics).toMatch(/outcome="none"} 1/);
  });
});
