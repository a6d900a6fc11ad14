// The built-in patterns and custom regexes on whole strings: what is masked, what is left alone.

import { describe, expect, it } from 'vitest';
import { luhnValid } from '../../../../src/guardrails/mask/card.js';
import { maskString, type Counts } from '../../../../src/guardrails/mask/matcher.js';
import { allBuiltins, apiKeys, breakLuhn, compiled, grouped, luhnNumber, strayDigit, token } from '../../../helpers/masking-secrets.js';

const m = allBuiltins();
function mask(text: string): { text: string; counts: Counts } {
  const counts: Counts = {};
  return { text: maskString(m, text, counts), counts };
}

describe('Luhn and cards', () => {
  it('checks Luhn', () => {
    expect(luhnValid([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])).toBe(true);
    expect(luhnValid([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2])).toBe(false);
    expect(luhnValid([7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3])).toBe(true); // the Wikipedia example
  });

  it.each([13, 15, 16, 19])('masks a Luhn-valid %i-digit number, plain, spaced and dashed', (length) => {
    const card = luhnNumber('4', length);
    for (const written of [card, grouped(card, ' '), grouped(card, '-')]) {
      expect(mask(`pay with ${written}, thanks`)).toEqual({ text: 'pay with [card], thanks', counts: { card: 1 } });
    }
  });

  it('leaves numbers that fail Luhn, or are too short or too long', () => {
    const card = luhnNumber('5', 16);
    for (const text of [breakLuhn(card), luhnNumber('4', 12), luhnNumber('4', 20), `${card}${strayDigit(card, 'after')}`, `order ${grouped(breakLuhn(card), ' ')}`]) {
      expect(mask(text)).toEqual({ text, counts: {} });
    }
  });

  it('finds a valid card next to stray digit groups', () => {
    const card = grouped(luhnNumber('4', 16), ' ');
    // A stray group before or after must not hide the card (one Luhn try over the whole run would).
    const before = strayDigit(card, 'before');
    const after = strayDigit(card, 'after');
    expect(mask(`${before} ${card}`).text).toBe(`${before} [card]`);
    expect(mask(`${card} ${after}`).text).toBe(`[card] ${after}`);
    expect(mask(`card:${card}.`).text).toBe('card:[card].');
  });
});

describe('emails', () => {
  it.each([
    ['write to john.doe+ml@example.co.uk today', 'write to [email] today'],
    ['<ANNA_B@Mail.Example.com>', '<[email]>'],
    ['a@b.io and c@d.org', '[email] and [email]'],
  ])('%s', (text, expected) => {
    expect(mask(text).text).toBe(expected);
  });

  it('keeps what is no address', () => {
    for (const text of ['user@localhost', '@handle', 'a @ b.com', 'x@y.z']) expect(mask(text).text).toBe(text);
  });

  it('masks the domain and the last 64 characters of an overlong local part', () => {
    const out = mask(`${'a'.repeat(100)}@example.com`).text;
    expect(out).toBe(`${'a'.repeat(36)}[email]`);
  });

  it('keeps a JSON escape in front of an address intact', () => {
    expect(mask(String.raw`{"to":"x\njohn@example.com"}`).text).toBe(String.raw`{"to":"x\n[email]"}`);
  });
});

describe('api keys', () => {
  it.each(Object.entries(apiKeys()))('masks %s', (_name, key) => {
    expect(mask(`key=${key} end`)).toEqual({ text: 'key=[api_key] end', counts: { api_key: 1 } });
  });

  it('masks the token after Bearer, not the word', () => {
    expect(mask(`Authorization: Bearer ${token(40)}`).text).toBe('Authorization: Bearer [api_key]');
  });

  it('leaves words that only look like a prefix', () => {
    for (const text of ['risk-assessment-framework-for-teams', 'task-1234567890abcdefghij', 'sk-learn-is-a-great-library-here', 'AKIA123', 'eyJhbGciOi.short']) {
      expect(mask(text).text).toBe(text);
    }
  });
});

describe('custom patterns', () => {
  const masking = compiled({ builtin: [], custom: [{ id: 'employee_id', regex: String.raw`EMP-\d{6}` }, { id: 'project', regex: 'project (apollo|gemini)', case_insensitive: true, max_length: 32 }] });
  const json = (text: string) => masking.factory({ subject: 's', roles: [], model: 'm', contentType: 'application/json', contentEncoding: 'identity' })!;

  it('masks with each regex, by its id', () => {
    const t = json('');
    const out = t.push(Buffer.from(JSON.stringify({ a: 'EMP-123456 works on Project Apollo; EMP-12345 does not' })), true);
    expect(JSON.parse(out.toString())).toEqual({ a: '[employee_id] works on [project]; EMP-12345 does not' });
    expect(t.counts).toEqual({ employee_id: 1, project: 1 });
  });

  it('cuts a match at max_length and scans on after it', () => {
    const t = compiled({ builtin: [], custom: [{ id: 'digits', regex: String.raw`\d+`, max_length: 4 }] }).factory({ subject: 's', roles: [], model: 'm', contentType: 'text/plain', contentEncoding: 'identity' })!;
    expect(t.push(Buffer.from('a 1234567890 b'), true).toString()).toBe('a [digits][digits][digits] b');
  });
});
