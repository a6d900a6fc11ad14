// JSON responses: masked inside string values only, still valid JSON, bounded (fail closed), counted.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonMasker } from '../../../../src/guardrails/mask/json-body.js';
import { allBuiltins, apiKeys, grouped, luhnNumber } from '../../../helpers/masking-secrets.js';

const m = allBuiltins();
const keys = apiKeys();
const card = luhnNumber('37', 15);
const SECRETS = ['jane.roe@example.org', card, grouped(luhnNumber('6011', 16), ' '), ...Object.values(keys)];

function run(body: string | Buffer, pieces = 1, maxBytes = 1 << 20) {
  const t = jsonMasker({ matcher: m, maxBytes });
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const size = Math.ceil(bytes.length / pieces);
  const out: Buffer[] = [];
  for (let i = 0; i < pieces; i++) out.push(t.push(bytes.subarray(i * size, (i + 1) * size), i === pieces - 1));
  return { out: Buffer.concat(out), counts: t.counts, parts: out };
}

const completion = (content: string) => ({
  id: 'chatcmpl-123',
  object: 'chat.completion',
  created: 1764300000,
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 },
});

describe('jsonMasker', () => {
  it('masks a chat completion and keeps every other byte', () => {
    const body = JSON.stringify(completion(`Reach jane.roe@example.org, card ${card}, key ${keys.openai}.`), null, 2);
    const { out, counts, parts } = run(body, 3);
    // Nothing leaves before the end: the body is masked as a whole.
    expect(parts.slice(0, 2).every((p) => p.length === 0)).toBe(true);
    expect(out.toString()).toBe(body.replace('jane.roe@example.org', '[email]').replace(card, '[card]').replace(keys.openai, '[api_key]'));
    expect(counts).toEqual({ email: 1, card: 1, api_key: 1 });
  });

  it('returns the very same bytes when nothing matches', () => {
    const body = Buffer.from('{"a": 1.50, "big": 12345678901234567890, "s": "caf\\u00e9"}');
    expect(run(body).out.equals(body)).toBe(true);
  });

  it('finds secrets hidden by JSON escapes and leaves keys alone', () => {
    const body = String.raw`{"john@example.com": "mail john\u0040example.com\nor \"x@y.io\""}`;
    const out = JSON.parse(run(body).out.toString());
    expect(out).toEqual({ 'john@example.com': 'mail [email]\nor "[email]"' });
  });

  it('removes logprobs, which repeat the answer token by token', () => {
    const body = { ...completion('hi'), choices: [{ ...completion('hi').choices[0], logprobs: { content: [{ token: 'jane', logprob: -1 }] } }] };
    const { out, counts } = run(JSON.stringify(body));
    expect(JSON.parse(out.toString()).choices[0].logprobs).toBeNull();
    expect(counts).toEqual({ logprobs: 1 });
  });

  it('replaces a body over the bound with a JSON error, and counts it', () => {
    const body = JSON.stringify(completion(`x ${'jane.roe@example.org '.repeat(200)}`));
    const { out, counts } = run(body, 4, 2048);
    expect(JSON.parse(out.toString())).toEqual({ error: { message: 'modelgate withheld this response: it is too large to mask', type: 'modelgate_masking', code: 'masking_body_too_large' } });
    expect(counts).toEqual({ body_withheld: 1 });
  });

  it('masks a body that is not JSON as text', () => {
    const { out, counts } = run('upstream error for jane.roe@example.org');
    expect(out.toString()).toBe('upstream error for [email]');
    expect(counts).toEqual({ body_not_json: 1, email: 1 });
  });

  it('keeps random JSON valid and lets no injected secret through', () => {
    const text = fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...SECRETS), fc.string({ maxLength: 8 })).map(([a, s, b]) => `${a} ${s} ${b}`);
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.string({ unit: 'binary', maxLength: 10 }),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(value, fc.constantFrom(undefined, 2, '\t'), fc.integer({ min: 1, max: 5 }), (json, indent, pieces) => {
        const body = JSON.stringify(json, null, indent);
        const out = run(body, pieces).out.toString();
        const parsed: unknown = JSON.parse(out);
        const decoded = JSON.stringify(parsed);
        for (const secret of SECRETS) {
          expect(out).not.toContain(secret);
          expect(decoded).not.toContain(secret);
        }
        // Masking changes strings only: the shape (keys, numbers, nesting) is the same.
        expect(shape(parsed)).toEqual(shape(JSON.parse(body)));
      }),
      { numRuns: 300 },
    );
  });
});

function shape(value: unknown): unknown {
  if (typeof value === 'string') return 'string';
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  return value;
}
