// A streamed text, cut anywhere, masks exactly like the whole text at once; and holds back little.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskString, matcher, type Counts } from '../../../../src/guardrails/mask/matcher.js';
import { regexPattern } from '../../../../src/guardrails/mask/pattern.js';
import { MaskedTextStream } from '../../../../src/guardrails/mask/text-stream.js';
import { allBuiltins, apiKeys, grouped, luhnNumber, token } from '../../../helpers/masking-secrets.js';

const m = allBuiltins();
const keys = apiKeys();
const card = luhnNumber('4', 16);
const SECRETS = ['john.doe@example.com', card, grouped(card, ' '), grouped(luhnNumber('5', 16), '-'), ...Object.values(keys), `Bearer ${token(40)}`, `Bearer  ${token(30)}`];
const FILLER = ['the', 'model', 'said', ' ', '  ', '\n', 'é', '😀', '42', '1 ', '-', ':', '\\n', 'x@', '@y.com', 'sk-', 'eyJ', '.', 'ghp_', '2024-01-01'];

function streamed(pieces: readonly string[]): { text: string; counts: Counts } {
  const counts: Counts = {};
  const stream = new MaskedTextStream(m, counts);
  let text = '';
  pieces.forEach((piece, i) => (text += stream.push(piece, i === pieces.length - 1)));
  return { text, counts };
}

function cut(text: string, at: readonly number[]): string[] {
  const points = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const p of points) {
    pieces.push(text.slice(from, p));
    from = p;
  }
  pieces.push(text.slice(from));
  return pieces;
}

describe('MaskedTextStream', () => {
  it('equals masking the whole text, however the text is cut', () => {
    const words = fc.array(fc.oneof(fc.constantFrom(...SECRETS), fc.constantFrom(...FILLER), fc.string({ maxLength: 6 })), { maxLength: 30 });
    fc.assert(
      fc.property(words, fc.array(fc.nat(), { maxLength: 12 }), (parts, at) => {
        const whole = parts.join(parts.length % 2 ? ' ' : '');
        const expected: Counts = {};
        const masked = maskString(m, whole, expected);
        expect(streamed(cut(whole, at))).toEqual({ text: masked, counts: expected });
      }),
      { numRuns: 400 },
    );
  });

  it('masks a secret streamed one character at a time, and no piece of it leaves early', () => {
    const text = `mail john.doe@example.com or call, card ${grouped(card, ' ')} key ${keys.openai}.`;
    const counts: Counts = {};
    const stream = new MaskedTextStream(m, counts);
    let out = '';
    for (let i = 0; i < text.length; i++) {
      out += stream.push(text[i]!, false);
      // At no point has any prefix of a secret longer than 3 characters been sent.
      for (const secret of ['john.doe@', grouped(card, ' ').slice(0, 4), keys.openai.slice(0, 4)]) expect(out).not.toContain(secret);
    }
    out += stream.push('', true);
    expect(out).toBe('mail [email] or call, card [card] key [api_key].');
    expect(counts).toEqual({ email: 1, card: 1, api_key: 1 });
  });

  it('holds back only the trailing word (and trailing digits) of prose', () => {
    const stream = new MaskedTextStream(m, {});
    expect(stream.push('Hello there, how are yo', false)).toBe('Hello there, how are ');
    expect(stream.heldLength).toBe(2);
    expect(stream.push('u today? Call 555 12', false)).toBe('you today? Call ');
    expect(stream.push('34.', true)).toBe('555 1234.');
  });

  it('cuts inside a word longer than any match and still masks the same', () => {
    const whole = `${'a'.repeat(9_000)}/${keys.openai} ${'b'.repeat(700)}john@example.com${'c'.repeat(50)}`;
    const pieces = whole.match(/[^]{1,97}/g)!;
    expect(streamed(pieces)).toEqual({ text: maskString(m, whole, {}), counts: { api_key: 1, email: 1 } });
  });

  it('never splits a surrogate pair', () => {
    // A fixed hold of 4 + 16 characters puts the cut right after the high surrogate of 😀.
    const fixed = matcher([regexPattern({ kind: 'x', regex: /zz/g, maxLength: 4, hold: 'fixed' })]);
    const stream = new MaskedTextStream(fixed, {});
    expect(stream.push(`ab😀${'c'.repeat(19)}`, false)).toBe('ab');
    expect(stream.push('', true)).toBe(`😀${'c'.repeat(19)}`);
  });
});
