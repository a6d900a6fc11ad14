// A body transformer rewrites JSON and SSE responses through the real Envoy; the hash stays the model's own output.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BodyTransformer, ExchangeView } from '../../../src/extproc/transform.js';
import { ENVOY_BIN } from '../../helpers/envoy.js';
import { FRONTEND } from '../../helpers/e2e/fixture.js';
import { RecordingSettler, startLlmStack, withReservation, type LlmStack } from '../../helpers/llm-stack.js';

const WORD = Buffer.from('secret');
const MASK = Buffer.from('[redacted]');

/**
 * A test transformer shaped like a masker: replaces every "secret" (a different length, so
 * content-length must go) and holds back a tail that could be the start of one split across chunks.
 */
function redactor(): BodyTransformer {
  let tail = Buffer.alloc(0);
  const counts: Record<string, number> = {};
  return {
    counts,
    push(chunk, end) {
      let text = Buffer.concat([tail, chunk]);
      const out: Buffer[] = [];
      for (let at = text.indexOf(WORD); at !== -1; at = text.indexOf(WORD)) {
        out.push(text.subarray(0, at), MASK);
        counts.word = (counts.word ?? 0) + 1;
        text = text.subarray(at + WORD.length);
      }
      const keep = end ? 0 : Math.min(WORD.length - 1, text.length);
      out.push(text.subarray(0, text.length - keep));
      tail = Buffer.from(text.subarray(text.length - keep));
      return Buffer.concat(out);
    },
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const redacted = (b: Buffer) => Buffer.from(b.toString('latin1').replaceAll('secret', '[redacted]'), 'latin1');
const CHAT = { model: 'gpt-test', messages: [{ role: 'user', content: 'Tell me' }], max_tokens: 20 };
const CONTENT = 'the secret is secret and a secret';

describe.skipIf(!ENVOY_BIN)('ext_proc body transformers through the edge Envoy', () => {
  const settler = new RecordingSettler();
  const views: ExchangeView[] = [];
  let stack: LlmStack;

  beforeAll(async () => {
    const transformers = (view: ExchangeView): BodyTransformer => {
      views.push(view);
      if (view.model === 'boom') return { counts: {}, push: () => { throw new Error('transformer bug'); } };
      return redactor();
    };
    stack = await startLlmStack({ settler, transformers, transform: withReservation('res-t') });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('rewrites a JSON answer; usage and hash come from the model output, counts reach the access log', async () => {
    const reply = await stack.chat(CHAT, { content: CONTENT, chunkBytes: 9, usage: { prompt_tokens: 5, completion_tokens: 8 } });
    const sent = stack.fake.sent.at(-1)!;
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe(redacted(sent).toString());
    expect(reply.body.toString()).not.toContain('secret');
    expect(JSON.parse(reply.body.toString())).toMatchObject({ choices: [{ message: { content: 'the [redacted] is [redacted] and a [redacted]' } }] });
    // The identity the transformer sees is modelgate's Check answer, from Envoy's metadata.
    expect(views.at(-1)).toEqual({ subject: `mtls:${FRONTEND}`, roles: ['chat_user'], model: 'gpt-test', contentType: 'application/json', contentEncoding: 'identity' });
    const line = await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(sent));
    expect(line.ext_proc).toMatchObject({ masked_word: 3, usage_source: 'body', usage_input_tokens: 5, usage_output_tokens: 8 });
  });

  it('rewrites a JSON answer sent with content-length in one piece', async () => {
    const reply = await stack.chat(CHAT, { content: CONTENT });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe(redacted(stack.fake.sent.at(-1)!).toString());
  });

  it('rewrites an SSE stream whose chunks split the word, and still reads its usage', async () => {
    const before = settler.calls.length;
    const body = { ...CHAT, stream: true, stream_options: { include_usage: true } };
    const reply = await stack.chat(body, { content: CONTENT, chunkBytes: 4, usage: { prompt_tokens: 6, completion_tokens: 12 } });
    const sent = stack.fake.sent.at(-1)!;
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe(redacted(sent).toString());
    expect(views.at(-1)?.contentType).toBe('text/event-stream');
    const calls = await settler.settled(before + 1);
    expect(calls[before]).toMatchObject({ reservationId: 'res-t', failed: false, usage: { inputTokens: 6, outputTokens: 12 } });
    const line = await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(sent));
    expect(line.ext_proc).toMatchObject({ masked_word: 3, usage_source: 'sse' });
  });

  it('a transformer that throws cuts the response (never the unmasked body) and settles as failed', async () => {
    const before = settler.calls.length;
    const outcome = await stack
      .chat({ ...CHAT, model: 'boom' }, { content: CONTENT, chunkBytes: 20, delayMs: 5 })
      .then((r) => ({ status: r.status, body: r.body.toString() }), (e: unknown) => ({ status: 0, body: String(e) }));
    expect(outcome.body).not.toContain('secret');
    expect(outcome.status).not.toBe(200);
    const calls = await settler.settled(before + 1);
    expect(calls[before]).toMatchObject({ reservationId: 'res-t', failed: true });
    const metrics = await stack.gate.metrics.registry.getSingleMetricAsString('modelgate_extproc_stream_errors_total');
    expect(metrics).toMatch(/modelgate_extproc_stream_errors_total 1/);
  });
});
