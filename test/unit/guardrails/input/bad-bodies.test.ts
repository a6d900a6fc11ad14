// Every bad body shape, under an enforced rule (a deliberate deny with a fixed detail, never a
// crash) and under a shadow rule (reported, allowed). Details never quote the body.

import { describe, expect, it } from 'vitest';
import { screenInput } from '../../../../src/guardrails/input/evaluate.js';
import { depthExceeds } from '../../../../src/guardrails/input/body-bounds.js';
import { compile, request, type RequestOptions } from '../../../helpers/guardrails/input-rules.js';

const limits = { max_body_bytes: 2048, max_messages: 3, max_depth: 6, max_scan_chars: 256 };
const enforced = compile({ limits, rules: [{ id: 'guard', when: 'false' }] });
const shadow = compile({ limits, rules: [{ id: 'guard', when: 'false', shadow: true }] });
const msg = (content: unknown, role: unknown = 'user') => ({ model: 'm', messages: [{ role, content }] });

const CASES: Array<[name: string, body: RequestOptions, reason: string, detail: string]> = [
  ['no body', {}, 'body_required', 'input rule needs the request body; none sent (with_request_body)'],
  ['partial body (Envoy cut it)', { raw: '{"model":"m","messages":[]}', partial: true }, 'input_rejected', 'body partial (x-envoy-auth-partial-body: true)'],
  ['not JSON', { raw: 'model=m&prompt=hi' }, 'input_rejected', 'body is not a JSON object'],
  ['truncated JSON', { raw: '{"model":"m","messages":[{"role":"user","content":"hi"}' }, 'input_rejected', 'body is not a JSON object'],
  ['nested without end', { raw: '{"a":' + '['.repeat(1000) }, 'input_rejected', 'body is not a JSON object'],
  ['nested deep', { raw: '{"a":' + '['.repeat(1000) + ']'.repeat(1000) + '}' }, 'input_rejected', 'body nested past guardrails.input.limits.max_depth'],
  ['too deep', { body: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } }, 'input_rejected', 'body nested past guardrails.input.limits.max_depth'],
  ['over max_body_bytes (multi-byte)', { body: { model: 'm', prompt: 'é'.repeat(1100) } }, 'input_rejected', 'body over guardrails.input.limits.max_body_bytes'],
  ['a JSON array', { body: [{ role: 'user', content: 'hi' }] }, 'input_rejected', 'body is not a JSON object'],
  ['a JSON string', { body: 'hi' }, 'input_rejected', 'body is not a JSON object'],
  ['JSON null', { raw: 'null' }, 'input_rejected', 'body is not a JSON object'],
  ['messages an object', { body: { messages: { role: 'user', content: 'hi' } } }, 'input_rejected', 'messages is not an array of objects with a string role'],
  ['a message not an object', { body: { messages: ['hi'] } }, 'input_rejected', 'messages is not an array of objects with a string role'],
  ['a message without role', { body: { messages: [{ content: 'hi' }] } }, 'input_rejected', 'messages is not an array of objects with a string role'],
  ['a numeric role', { body: msg('hi', 1) }, 'input_rejected', 'messages is not an array of objects with a string role'],
  ['too many messages', { body: { messages: [1, 2, 3, 4].map(() => ({ role: 'user', content: 'x' })) } }, 'input_rejected', 'messages over guardrails.input.limits.max_messages'],
  ['content a number', { body: msg(42) }, 'input_rejected', 'message content is not a string, null or an array of typed parts'],
  ['content an object', { body: msg({ text: 'hi' }) }, 'input_rejected', 'message content is not a string, null or an array of typed parts'],
  ['a part without type', { body: msg([{ text: 'hi' }]) }, 'input_rejected', 'message content is not a string, null or an array of typed parts'],
  ['a part a bare string', { body: msg(['hi']) }, 'input_rejected', 'message content is not a string, null or an array of typed parts'],
  ['a text part whose text is not a string', { body: msg([{ type: 'text', text: ['hi'] }]) }, 'input_rejected', 'message content is not a string, null or an array of typed parts'],
  ['prompt an object', { body: { model: 'm', prompt: { text: 'hi' } } }, 'input_rejected', 'prompt is not a string or an array of strings or token ids'],
  ['prompt with a float token', { body: { model: 'm', prompt: [[1, 2.5]] } }, 'input_rejected', 'prompt is not a string or an array of strings or token ids'],
  ['tools an object', { body: { messages: [], tools: { type: 'function' } } }, 'input_rejected', 'tools or functions is not an array of named definitions'],
  ['a tool without a name', { body: { messages: [], tools: [{ type: 'function', function: { parameters: {} } }] } }, 'input_rejected', 'tools or functions is not an array of named definitions'],
  ['legacy functions without a name', { body: { messages: [], functions: [{}] } }, 'input_rejected', 'tools or functions is not an array of named definitions'],
];

describe('bad bodies fail closed', () => {
  it.each(CASES)('%s: enforced → a deliberate deny', (_name, body, reason, detail) => {
    expect(screenInput(enforced, request(body), [])).toMatchObject({ allowed: false, reason, detail, ruleId: 'guard', bodyExtra: { rule: 'guard' } });
  });

  it.each(CASES)('%s: shadow → allowed, reported', (_name, body) => {
    expect(screenInput(shadow, request(body), [])).toEqual({ allowed: true, shadowRules: ['guard'] });
  });

  it('accepts the shapes OpenAI-style clients send', () => {
    const bodies = [
      msg(null, 'assistant'),
      { messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] },
      msg([{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }, { type: 'input_audio', input_audio: { data: '', format: 'wav' } }]),
      msg([{ type: 'refusal', refusal: 'no' }], 'assistant'),
      { model: 'm', prompt: 'hi' },
      { model: 'm', prompt: ['a', 'b'] },
      { model: 'm', prompt: [1, 2, 3] },
      { model: 'm', prompt: [[1, 2], [3]] },
      { model: 'm', messages: [], tools: [{ type: 'function', function: { name: 'get_weather' } }], functions: [{ name: 'legacy' }] },
      { model: 'm' },
    ];
    for (const body of bodies) expect(screenInput(enforced, request({ body }), []), JSON.stringify(body)).toEqual({ allowed: true, shadowRules: [] });
  });

  it('counts the depth of objects and arrays, the body object being depth 1', () => {
    expect(depthExceeds({ a: '[[[[[[[[[[' }, 1)).toBe(false);
    expect(depthExceeds({ a: [[1]], b: { c: 2 } }, 3)).toBe(false);
    expect(depthExceeds({ a: [[1]], b: { c: 2 } }, 2)).toBe(true);
    expect(depthExceeds({ a: [], b: [{ c: { d: null } }] }, 3)).toBe(true);
    // Deeper than any call stack: the walk is iterative.
    expect(depthExceeds(JSON.parse('{"a":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}'), 32)).toBe(true);
  });
});
