import { describe, expect, it } from 'vitest';
import { usageOf, usageOfHeaders, usageOfJson } from '../../../src/extproc/usage.js';

const response = (usage: unknown) => ({ id: 'x', choices: [], usage });

describe('usageOf', () => {
  it('reads prompt, completion and cached tokens', () => {
    expect(usageOf(response({ prompt_tokens: 12, completion_tokens: 30, total_tokens: 42, prompt_tokens_details: { cached_tokens: 4 } }))).toEqual({
      inputTokens: 12,
      outputTokens: 30,
      cachedInputTokens: 4,
    });
  });

  it('cached tokens default to 0 when absent or null', () => {
    expect(usageOf(response({ prompt_tokens: 1, completion_tokens: 2 }))).toEqual({ inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 });
    expect(usageOf(response({ prompt_tokens: 1, completion_tokens: 2, prompt_tokens_details: null }))).toMatchObject({ cachedInputTokens: 0 });
    expect(usageOf(response({ prompt_tokens: 1, completion_tokens: 2, prompt_tokens_details: { cached_tokens: null } }))).toMatchObject({ cachedInputTokens: 0 });
  });

  it.each([
    ['no usage', { id: 'x' }],
    ['usage null (an SSE content chunk)', response(null)],
    ['usage an array', response([1, 2])],
    ['missing completion', response({ prompt_tokens: 1 })],
    ['a string count', response({ prompt_tokens: '10', completion_tokens: 2 })],
    ['a negative count', response({ prompt_tokens: -1, completion_tokens: 2 })],
    ['a fraction', response({ prompt_tokens: 1.5, completion_tokens: 2 })],
    ['an unsafe integer', response({ prompt_tokens: 2 ** 53, completion_tokens: 2 })],
    ['a huge number', response({ prompt_tokens: 1e300, completion_tokens: 2 })],
    ['cached more than the prompt', response({ prompt_tokens: 3, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 4 } })],
    ['cached a string', response({ prompt_tokens: 3, completion_tokens: 2, prompt_tokens_details: { cached_tokens: '1' } })],
    ['not an object', 'usage'],
    ['null', null],
  ])('%s: no usage', (_name, value) => {
    expect(usageOf(value)).toBeUndefined();
  });
});

describe('usageOfJson', () => {
  it('parses a body', () => {
    expect(usageOfJson('{"usage":{"prompt_tokens":5,"completion_tokens":6}}')).toEqual({ inputTokens: 5, outputTokens: 6, cachedInputTokens: 0 });
  });

  it.each([
    ['broken JSON', '{"usage":{"prompt_tokens":5,'],
    ['empty', ''],
    ['a number literal beyond double range', '{"usage":{"prompt_tokens":1e999,"completion_tokens":1}}'],
    ['deep nesting', `${'['.repeat(200_000)}${']'.repeat(200_000)}`],
    ['deep nesting in usage', `{"usage":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`],
  ])('%s: no usage, no throw', (_name, text) => {
    expect(usageOfJson(text)).toBeUndefined();
  });

  it('a __proto__ key is data, not a prototype', () => {
    expect(usageOfJson('{"__proto__":{"usage":{"prompt_tokens":1,"completion_tokens":1}}}')).toBeUndefined();
  });
});

describe('usageOfHeaders', () => {
  const names = { input: 'x-usage-input-tokens', output: 'x-usage-output-tokens', cached_input: 'x-usage-cached-tokens' };
  const headers = (entries: Record<string, string>) => new Map(Object.entries(entries));

  it('reads plain integers', () => {
    expect(usageOfHeaders(headers({ 'x-usage-input-tokens': '10', 'x-usage-output-tokens': ' 3 ', 'x-usage-cached-tokens': '2' }), names)).toEqual({
      inputTokens: 10,
      outputTokens: 3,
      cachedInputTokens: 2,
    });
    expect(usageOfHeaders(headers({ 'x-usage-input-tokens': '10', 'x-usage-output-tokens': '3' }), names)).toMatchObject({ cachedInputTokens: 0 });
  });

  it.each([
    ['missing output', { 'x-usage-input-tokens': '10' }],
    ['negative', { 'x-usage-input-tokens': '-1', 'x-usage-output-tokens': '3' }],
    ['fraction', { 'x-usage-input-tokens': '1.5', 'x-usage-output-tokens': '3' }],
    ['exponent', { 'x-usage-input-tokens': '1e3', 'x-usage-output-tokens': '3' }],
    ['too many digits', { 'x-usage-input-tokens': '9'.repeat(16), 'x-usage-output-tokens': '3' }],
    ['words', { 'x-usage-input-tokens': 'ten', 'x-usage-output-tokens': '3' }],
    ['two values joined', { 'x-usage-input-tokens': '1,2', 'x-usage-output-tokens': '3' }],
    ['cached over input', { 'x-usage-input-tokens': '1', 'x-usage-output-tokens': '3', 'x-usage-cached-tokens': '2' }],
    ['cached not a number', { 'x-usage-input-tokens': '1', 'x-usage-output-tokens': '3', 'x-usage-cached-tokens': 'x' }],
  ])('%s: no usage', (_name, entries) => {
    expect(usageOfHeaders(headers(entries), names)).toBeUndefined();
  });
});
