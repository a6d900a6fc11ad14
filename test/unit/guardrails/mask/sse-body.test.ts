// SSE responses: secrets split across transport chunks and across events are masked, the framing and
// every event's JSON stay valid, and all other text arrives in order.

import { describe, expect, it } from 'vitest';
import { maskString, type Counts } from '../../../../src/guardrails/mask/matcher.js';
import { sseMasker } from '../../../../src/guardrails/mask/sse-body.js';
import { rng } from '../../../helpers/random.js';
import { allBuiltins, apiKeys, grouped, luhnNumber } from '../../../helpers/masking-secrets.js';

const m = allBuiltins();
const keys = apiKeys();
const card = grouped(luhnNumber('4', 16), ' ');
const SECRETS = ['john@example.com', card, keys.openai, keys.jwt];
const FRAME = { id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1764300000, model: 'gpt-4o' };

/** Deltas that cut every secret across events, with multi-byte characters around them. */
const PIECES = ['Café 😀: mail ', 'john', '@exa', 'mple.com', ' or pay ', card.slice(0, 7), card.slice(7), ' with ', keys.openai.slice(0, 5), keys.openai.slice(5), '\n', keys.jwt.slice(0, 40), keys.jwt.slice(40), ' — done.'];
const WHOLE = PIECES.join('');

const event = (choices: unknown[], extra: object = {}) => `data: ${JSON.stringify({ ...FRAME, choices, ...extra })}\n\n`;
const delta = (content: string, index = 0) => ({ index, delta: { content }, finish_reason: null });

function chatStream(pieces: readonly string[], options: { finish?: boolean; done?: boolean } = {}): string {
  let out = event([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  for (const piece of pieces) out += event([delta(piece)]);
  if (options.finish !== false) out += event([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  out += event([], { usage: { prompt_tokens: 5, completion_tokens: 40, total_tokens: 45 } });
  if (options.done !== false) out += 'data: [DONE]\n\n';
  return out;
}

/** Feeds `bytes` cut at `at`; returns what the client receives and the counts. */
function run(bytes: Buffer, at: readonly number[], maxEventChars = 1 << 20): { out: string; counts: Counts } {
  const t = sseMasker({ matcher: m, maxEventChars });
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...at, bytes.length]) {
    out.push(t.push(bytes.subarray(from, p), p === bytes.length));
    from = p;
  }
  return { out: Buffer.concat(out).toString('utf8'), counts: { ...t.counts } };
}

interface Parsed {
  readonly events: unknown[];
  /** Streamed text per choice, in order. */
  readonly content: Map<number, string>;
  readonly done: boolean;
}

/** The client's view: every event well framed, every data line JSON (or [DONE]). Throws otherwise (plain throws: this runs thousands of times). */
function parse(sse: string): Parsed {
  if (!sse.endsWith('\n\n')) throw new Error(`stream does not end with a blank line: ${JSON.stringify(sse.slice(-40))}`);
  const events: unknown[] = [];
  const content = new Map<number, string>();
  let done = false;
  for (const block of sse.slice(0, -2).split('\n\n')) {
    const data = block.split('\n').filter((l) => l.startsWith('data: '));
    if (data.length !== 1) throw new Error(`event without exactly one data line: ${JSON.stringify(block)}`);
    const value = data[0]!.slice(6);
    if (value === '[DONE]') {
      done = true;
      continue;
    }
    const parsed = JSON.parse(value) as { choices?: Array<{ index: number; delta?: { content?: string; tool_calls?: Array<{ function: { arguments: string } }> } }> };
    events.push(parsed);
    for (const c of parsed.choices ?? []) {
      const text = (c.delta?.content ?? '') + (c.delta?.tool_calls ?? []).map((t) => t.function.arguments).join('');
      content.set(c.index, (content.get(c.index) ?? '') + text);
    }
  }
  return { events, content, done };
}

function expectMasked(out: string, whole: string, choice = 0): Parsed {
  const parsed = parse(out);
  const leaked = SECRETS.filter((secret) => out.includes(secret));
  const expected = maskString(m, whole, {});
  // One expect only on failure: vitest's matchers are too slow for a loop over every byte position.
  if (leaked.length > 0 || parsed.content.get(choice) !== expected) expect({ leaked, content: parsed.content.get(choice) }).toEqual({ leaked: [], content: expected });
  return parsed;
}

describe('sseMasker', () => {
  const bytes = Buffer.from(chatStream(PIECES));

  it('masks secrets split across events, and counts them', () => {
    const { out, counts } = run(bytes, []);
    expect(maskString(m, WHOLE, {})).toBe('Café 😀: mail [email] or pay [card] with [api_key]\n[api_key] — done.');
    const parsed = expectMasked(out, WHOLE);
    expect(parsed.done).toBe(true);
    // Every event still arrives (usage included), in order.
    expect(parsed.events).toHaveLength(PIECES.length + 3);
    expect(counts).toEqual({ email: 1, card: 1, api_key: 2 });
  });

  it('holds for every cut of the byte stream (events cut mid-line, mid-character, mid-secret)', () => {
    for (let at = 0; at <= bytes.length; at++) {
      const { out, counts } = run(bytes, [at]);
      expectMasked(out, WHOLE);
      if (counts.email !== 1 || counts.card !== 1 || counts.api_key !== 2 || Object.keys(counts).length !== 3) expect({ at, counts }).toEqual({ at, counts: { email: 1, card: 1, api_key: 2 } });
    }
  });

  it('holds for many random cuts at once, and with CRLF line ends', () => {
    const crlf = Buffer.from(chatStream(PIECES).replace(/\n/g, '\r\n'));
    const next = rng(7);
    for (let round = 0; round < 200; round++) {
      const input = round % 2 ? crlf : bytes;
      const at = [...new Set(Array.from({ length: 1 + Math.floor(next() * 30) }, () => Math.floor(next() * input.length)))].sort((a, b) => a - b);
      expectMasked(run(input, at).out, WHOLE);
    }
  });

  it('without a finishing event, flushes the held tail in a chunk before [DONE]', () => {
    const { out } = run(Buffer.from(chatStream(['see ', 'john@', 'example.com'], { finish: false })), []);
    expectMasked(out, 'see john@example.com');
    const blocks = out.trimEnd().split('\n\n');
    expect(blocks.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(blocks.at(-2)!.slice(6))).toEqual({ ...FRAME, choices: [{ index: 0, delta: { content: '[email]' }, finish_reason: null }] });
  });

  it('flushes at the end of a stream that never says [DONE]', () => {
    const { out } = run(Buffer.from(chatStream(['key ', keys.openai.slice(0, 9), keys.openai.slice(9)], { finish: false, done: false })), [3]);
    expectMasked(out, `key ${keys.openai}`);
  });

  it('keeps choices apart and masks tool-call arguments across events', () => {
    let sse = '';
    const a = ['to ', 'ann@', 'example.com'];
    const args = ['{"card":"', card.slice(0, 9), card.slice(9), '"}'];
    for (let i = 0; i < 4; i++) {
      const choices: unknown[] = [{ index: 1, delta: { tool_calls: [{ index: 0, function: { arguments: args[i] } }] }, finish_reason: null }];
      if (a[i] !== undefined) choices.unshift(delta(a[i]!, 0));
      sse += event(choices);
    }
    sse += event([{ index: 0, delta: {}, finish_reason: 'stop' }, { index: 1, delta: {}, finish_reason: 'tool_calls' }]) + 'data: [DONE]\n\n';
    const { out, counts } = run(Buffer.from(sse), []);
    const parsed = parse(out);
    expect(parsed.content.get(0)).toBe('to [email]');
    expect(parsed.content.get(1)).toBe('{"card":"[card]"}');
    expect(counts).toEqual({ email: 1, card: 1 });
  });

  it('keeps event, id and comment lines, and masks non-JSON data as text', () => {
    const sse = ': keep-alive\n\nevent: note\nid: 7\ndata: mail john@example.com\n\n';
    expect(run(Buffer.from(sse), [20]).out).toBe(': keep-alive\n\nevent: note\nid: 7\ndata: mail [email]\n\n');
  });

  it('passes events with nothing to mask byte for byte', () => {
    const sse = event([{ index: 0, delta: { role: 'assistant' }, finish_reason: null }], { system_fingerprint: 'fp_1' }) + 'data: [DONE]\n\n';
    expect(run(Buffer.from(sse), [11]).out).toBe(sse);
  });

  it('ends the stream with an error event when one event outgrows the bound', () => {
    const sse = chatStream(['hello ', 'x'.repeat(3000), 'john@example.com']);
    const { out, counts } = run(Buffer.from(sse), [500, 1500, 2500], 2048);
    const blocks = out.trimEnd().split('\n\n');
    expect(JSON.parse(blocks.at(-1)!.slice(6)).error.code).toBe('masking_event_too_large');
    expect(out).not.toContain('john@example.com');
    expect(out).not.toContain('[DONE]');
    expect(counts.stream_withheld).toBe(1);
  });
});
