// Response masking through the shipped edge Envoy (ext_authz + ext_proc): an analyst gets masked JSON
// and SSE (secrets split across transport chunks and across events), an admin the model's own bytes,
// and the counts reach Envoy's access log as ext_proc metadata.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_SCORER, FRONTEND } from '../../helpers/e2e/fixture.js';
import { ENVOY_BIN } from '../../helpers/envoy.js';
import { startLlmStack, type LlmStack } from '../../helpers/llm-stack.js';
import { apiKeys, grouped, luhnNumber } from '../../helpers/masking-secrets.js';

const GATE_YAML = `
server: { shutdown_grace_seconds: 1 }
identity:
  order: [mtls]
  mtls:
    sources: [certificate, principal]
    workloads:
      - { match: '${FRONTEND}', roles: [analyst] }
      - { match: '${BATCH_SCORER}', roles: [admin] }
policy:
  roles: { analyst: {}, admin: {} }
  rules:
    - { id: chat, effect: allow, roles: [analyst, admin], models: ['*'], actions: [predict] }
  targets:
    paths:
      - { pattern: '/v1/chat/completions', methods: [POST], action: predict, model_from_body: model }
guardrails:
  masking:
    rules:
      - { roles: [admin], mask: [] }
      - { roles: [analyst], mask: [email, card, api_key] }
    max_json_bytes: 8192
`;

const key = apiKeys().openai;
const card = grouped(luhnNumber('4', 16), ' ');
const SECRETS = ['jane.roe@example.org', card, key];
/** The fake streams word by word, so the card's four groups arrive as four events. */
const CONTENT = `Mail jane.roe@example.org, pay with ${card} and use ${key} — café 😀 done.`;
const MASKED = 'Mail [email], pay with [card] and use [api_key] — café 😀 done.';
const CHAT = { model: 'gpt-test', messages: [{ role: 'user', content: 'Tell me' }], max_tokens: 20 };
const STREAM = { ...CHAT, stream: true, stream_options: { include_usage: true } };

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ANALYST = { cert: 'frontend' };
const ADMIN = { cert: 'batch-scorer' };

/** The client's view of an SSE body: every event framed and its data JSON; the streamed text. */
function streamed(body: Buffer): { content: string; done: boolean } {
  const text = body.toString('utf8');
  expect(text.endsWith('\n\n')).toBe(true);
  let content = '';
  let done = false;
  for (const block of text.slice(0, -2).split('\n\n')) {
    const data = block.split('\n').filter((l) => l.startsWith('data: '));
    expect(data).toHaveLength(1);
    if (data[0] === 'data: [DONE]') done = true;
    else content += (JSON.parse(data[0]!.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices.map((c) => c.delta?.content ?? '').join('');
  }
  return { content, done };
}

describe.skipIf(!ENVOY_BIN)('guardrails.masking through the edge Envoy', () => {
  let stack: LlmStack;

  beforeAll(async () => {
    stack = await startLlmStack({ gateYaml: GATE_YAML });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  const extProcOf = async (sent: Buffer) =>
    (await stack.accessLine((l) => (l.ext_proc as Record<string, unknown> | null)?.output_sha256 === sha256(sent))).ext_proc as Record<string, unknown>;

  it('an analyst gets a masked JSON answer, and the counts reach the access log', async () => {
    const reply = await stack.chat(CHAT, { content: CONTENT, chunkBytes: 7 }, ANALYST);
    expect(reply.status).toBe(200);
    const body = reply.body.toString('utf8');
    for (const secret of SECRETS) expect(body).not.toContain(secret);
    expect(JSON.parse(body)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: MASKED } }] });
    expect(await extProcOf(stack.fake.sent.at(-1)!)).toMatchObject({ masked_email: 1, masked_card: 1, masked_api_key: 1, usage_source: 'body' });
    // …and the metrics, per kind.
    const counted = await stack.gate.metrics.registry.getSingleMetricAsString('modelgate_extproc_masked_total');
    for (const kind of ['email', 'card', 'api_key']) expect(counted).toMatch(new RegExp(`modelgate_extproc_masked_total\\{kind="${kind}"\\} [1-9]`));
  });

  it('an analyst gets a masked SSE stream, secrets cut across chunks and events', async () => {
    const reply = await stack.chat(STREAM, { content: CONTENT, chunkBytes: 5 }, ANALYST);
    expect(reply.status).toBe(200);
    for (const secret of SECRETS) expect(reply.body.toString('utf8')).not.toContain(secret);
    expect(streamed(reply.body)).toEqual({ content: MASKED, done: true });
    expect(await extProcOf(stack.fake.sent.at(-1)!)).toMatchObject({ masked_email: 1, masked_card: 1, masked_api_key: 1, usage_source: 'sse' });
  });

  it('a JSON answer too large to mask is replaced by an error (fail closed), and counted', async () => {
    // Sent with content-length (no chunkBytes): the replacement has another length and still arrives whole.
    const reply = await stack.chat(CHAT, { content: `${CONTENT} `, repeat: 120 }, ANALYST);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString('utf8'))).toEqual({
      error: { message: 'modelgate withheld this response: it is too large to mask', type: 'modelgate_masking', code: 'masking_body_too_large' },
    });
    expect(await extProcOf(stack.fake.sent.at(-1)!)).toMatchObject({ masked_body_withheld: 1 });
  });

  it('an admin gets the model output byte for byte, JSON and SSE, and nothing is counted', async () => {
    for (const body of [CHAT, STREAM]) {
      // Other text than the analyst's, so the access line (found by output hash) is this exchange's.
      const reply = await stack.chat(body, { content: `${CONTENT} (admin)`, chunkBytes: 6 }, ADMIN);
      const sent = stack.fake.sent.at(-1)!;
      expect(reply.status).toBe(200);
      expect(reply.body.equals(sent)).toBe(true);
      const metadata = await extProcOf(sent);
      expect(Object.keys(metadata).filter((k) => k.startsWith('masked_'))).toEqual([]);
    }
  });
});
