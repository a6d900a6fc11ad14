// The admission estimate: bytes per token over the message text, per-message overhead, and the
// output side from max_tokens × n clamped to the model's maximum; unusable bodies are refused.

import { describe, expect, it } from 'vitest';
import { budgetsSchema } from '../../../src/budget/config.js';
import { estimate } from '../../../src/budget/estimate.js';
import { FREE } from '../../../src/budget/prices.js';

const rules = budgetsSchema.parse({}).estimate;
const gpt = { ...FREE, maxOutputTokens: 1_000 };

describe('estimate', () => {
  it('counts UTF-8 bytes of every message content, prompt and input at 4 bytes a token, plus 4 per message', () => {
    expect(estimate({ messages: [{ role: 'system', content: 'abcd' }, { role: 'user', content: 'efghi' }], max_tokens: 10 }, gpt, rules)).toEqual({ inputTokens: Math.ceil(9 / 4) + 8, outputTokens: 10 });
    // Content parts: only `text` counts (an image URL is not prompt text); é is 2 bytes, 😀 is 4.
    expect(estimate({ messages: [{ role: 'user', content: [{ type: 'text', text: 'é😀' }, { type: 'image_url', image_url: { url: 'x'.repeat(999) } }] }], max_tokens: 1 }, gpt, rules)).toEqual({ inputTokens: 2 + 4, outputTokens: 1 });
    expect(estimate({ prompt: 'x'.repeat(40), max_tokens: 1 }, gpt, rules)).toEqual({ inputTokens: 10, outputTokens: 1 });
    expect(estimate({ input: ['x'.repeat(8), 'y'.repeat(8)] }, gpt, rules)).toEqual({ inputTokens: 4, outputTokens: 1_000 });
  });

  it('prefers max_completion_tokens, multiplies by n, clamps to the model and defaults to its maximum', () => {
    expect(estimate({ max_completion_tokens: 50, max_tokens: 500 }, gpt, rules)).toMatchObject({ outputTokens: 50 });
    expect(estimate({ max_tokens: 50, n: 3 }, gpt, rules)).toMatchObject({ outputTokens: 150 });
    expect(estimate({ max_tokens: 5_000, n: 2 }, gpt, rules)).toMatchObject({ outputTokens: 2_000 });
    expect(estimate({}, gpt, rules)).toMatchObject({ outputTokens: 1_000 });
    expect(estimate({}, FREE, rules)).toMatchObject({ outputTokens: 4_096 });
    expect(estimate({}, FREE, { ...rules, default_max_output_tokens: 256 })).toMatchObject({ outputTokens: 256 });
  });

  it('refuses what it cannot estimate: no body (body_required), a bad max_tokens or n (request_invalid)', () => {
    expect(estimate(undefined, gpt, rules)).toMatchObject({ reason: 'body_required' });
    expect(estimate({ max_tokens: 0 }, gpt, rules)).toEqual({ reason: 'request_invalid', detail: 'max_tokens must be a positive integer' });
    expect(estimate({ max_tokens: 1.5 }, gpt, rules)).toMatchObject({ reason: 'request_invalid' });
    expect(estimate({ max_completion_tokens: '10' }, gpt, rules)).toEqual({ reason: 'request_invalid', detail: 'max_completion_tokens must be a positive integer' });
    expect(estimate({ n: -1 }, gpt, rules)).toEqual({ reason: 'request_invalid', detail: 'n must be a positive integer' });
  });
});
