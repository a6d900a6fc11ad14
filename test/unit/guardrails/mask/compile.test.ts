// guardrails.masking config: what it refuses at load, which roles see what, which bodies are masked.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStages } from '../../../../src/app/load-stages.js';
import { unlimited } from '../../../../src/ratelimit/limiter.js';
import { bodyKind, maskingRoleProblems, maskingTransformers } from '../../../../src/guardrails/mask/compile.js';
import { maskingSchema } from '../../../../src/guardrails/mask/config.js';
import { compiled, config } from '../../../helpers/masking-secrets.js';

/** Every schema problem as `path: message`. */
function problems(raw: unknown): string[] {
  const result = maskingSchema.safeParse(raw);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const view = (roles: string[], contentType = 'application/json', contentEncoding = 'identity') => ({ subject: 'jwt:corp:alice', roles, model: 'gpt-4o', contentType, contentEncoding });
const RULES = {
  custom: [{ id: 'ticket', regex: String.raw`TCK-\d{5}` }],
  rules: [
    { roles: ['admin'], mask: [] },
    { roles: ['support'], mask: ['card', 'api_key'] },
    { roles: ['analyst', 'viewer'], mask: ['email', 'card', 'api_key', 'ticket'] },
  ],
};

describe('guardrails.masking config', () => {
  it('defaults to every built-in for everyone', () => {
    expect(config()).toEqual({ builtin: ['email', 'card', 'api_key'], custom: [], rules: [], max_json_bytes: 4 * 1024 * 1024, max_event_chars: 1024 * 1024 });
    expect(compiled().patternsFor(['admin'])).toEqual(['email', 'card', 'api_key']);
  });

  it.each([
    [{ custom: [{ id: 'x', regex: 'a*' }] }, 'custom.0.regex: can match the empty string (every match must consume at least one character)'],
    [{ custom: [{ id: 'x', regex: String.raw`\b` }] }, 'custom.0.regex: can match the empty string (every match must consume at least one character)'],
    [{ custom: [{ id: 'x', regex: '(?=a)|b' }] }, 'custom.0.regex: can match the empty string (every match must consume at least one character)'],
    [{ custom: [{ id: 'x', regex: '(ab' }] }, 'custom.0.regex: invalid regular expression: Invalid regular expression: /(ab/g: Unterminated group'],
    [{ custom: [{ id: 'Bad-Id', regex: 'x' }] }, 'custom.0.id: lower-case letters, digits and "_", starting with a letter (at most 32)'],
    [{ custom: [{ id: 'email', regex: 'x' }] }, "custom.0.id: duplicate pattern id 'email' (also a builtin pattern)"],
    [{ custom: [{ id: 'x', regex: 'x', max_length: 5000 }] }, 'custom.0.max_length: Too big: expected number to be <=4096'],
    [{ rules: [{ roles: ['a'], mask: ['phone'] }] }, "rules.0.mask.0: unknown pattern 'phone'; configured: email, card, api_key"],
    [{ builtin: ['email'], rules: [{ roles: ['a'], mask: ['card'] }] }, "rules.0.mask.0: unknown pattern 'card' (a built-in left out of builtin); configured: email"],
    [{ rules: [{ roles: [], mask: [] }] }, 'rules.0.roles: Too small: expected array to have >=1 items'],
    [{ rules: [{ roles: ['a'] }] }, 'rules.0.mask: Invalid input: expected array, received undefined'],
    [{ rulez: [] }, ': Unrecognized key: "rulez"'],
  ])('refuses %j', (raw, expected) => {
    expect(problems(raw)).toEqual([expected]);
  });

  it('reports a bad pattern with file, line and key path through the one config loader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelgate-masking-'));
    try {
      const file = join(dir, 'modelgate.yaml');
      writeFileSync(file, ['policy:', '  roles: { analyst: null }', 'guardrails:', '  masking:', '    custom:', "      - { id: ticket, regex: 'T*' }", '    rules:', '      - { roles: [analyst], mask: [tickets] }', ''].join('\n'));
      const loaded = loadStages(file, { env: {}, now: Date.now, limiter: unlimited });
      expect(loaded.ok ? [] : loaded.error.lines).toEqual([
        `${file}:6: guardrails.masking.custom[0].regex: can match the empty string (every match must consume at least one character)`,
        `${file}:8: guardrails.masking.rules[0].mask[0]: unknown pattern 'tickets'; configured: email, card, api_key, ticket`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names masking roles that policy.roles does not declare', () => {
    expect(maskingRoleProblems(config(RULES), ['admin', 'support', 'analyst'])).toEqual([
      { path: ['guardrails', 'masking', 'rules', 2, 'roles', 1], message: "unknown role 'viewer' (not declared in policy.roles)" },
    ]);
    expect(maskingRoleProblems(undefined, [])).toEqual([]);
  });
});

describe('compileMasking', () => {
  const masking = compiled(RULES);

  it('applies the first rule naming one of the caller roles', () => {
    expect(masking.patternsFor(['support'])).toEqual(['card', 'api_key']);
    expect(masking.patternsFor(['viewer', 'support'])).toEqual(['card', 'api_key']);
    expect(masking.patternsFor(['analyst'])).toEqual(['email', 'card', 'api_key', 'ticket']);
    expect(masking.patternsFor(['admin', 'analyst'])).toEqual([]);
  });

  it('masks everything configured for roles no rule names (fail closed)', () => {
    expect(masking.patternsFor([])).toEqual(['email', 'card', 'api_key', 'ticket']);
    expect(masking.patternsFor(['intern'])).toEqual(['email', 'card', 'api_key', 'ticket']);
  });

  it('passes bodies through for roles that see them unmasked', () => {
    expect(masking.factory(view(['admin']))).toBeUndefined();
    expect(masking.factory(view(['support']))).toBeDefined();
  });

  it('masks what the rule lists and nothing else', () => {
    const t = masking.factory(view(['support']))!;
    const out = t.push(Buffer.from('{"a":"ann@example.com TCK-12345 4111111111111111"}'), true);
    expect(out.toString()).toBe('{"a":"ann@example.com TCK-12345 [card]"}');
    const all = masking.factory(view(['intern']))!.push(Buffer.from('{"a":"ann@example.com TCK-12345"}'), true);
    expect(all.toString()).toBe('{"a":"[email] [ticket]"}');
  });

  it.each([
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['application/problem+json', 'json'],
    ['text/event-stream', 'sse'],
    ['text/event-stream; charset=utf-8', 'sse'],
    ['text/plain', 'text'],
    ['application/x-ndjson', 'text'],
    ['', 'text'],
    ['image/png', undefined],
    ['application/octet-stream', undefined],
  ])('content type %j → %s', (contentType, kind) => {
    expect(bodyKind(contentType)).toBe(kind);
    expect(masking.factory(view(['intern'], contentType)) === undefined).toBe(kind === undefined);
  });
});

describe('compressed bodies', () => {
  const masking = compiled(RULES);
  it('are withheld whole when masking applies: never passed through, never half-masked', () => {
    const t = masking.factory(view(['intern'], 'application/json', 'gzip'))!;
    expect(t.push(Buffer.from('\x1f\x8b compressed bytes'), false).length).toBe(0);
    const sent = JSON.parse(t.push(Buffer.from(' more'), true).toString()) as { error: { code: string; type: string } };
    expect(sent.error).toMatchObject({ code: 'masking_encoded_body', type: 'modelgate_masking' });
    expect(t.counts).toEqual({ body_withheld: 1 });
    expect(masking.factory(view(['intern'], 'text/event-stream', 'br'))!.push(Buffer.alloc(0), true).toString()).toContain('masking_encoded_body');
  });

  it('pass through where masking would not apply anyway (unmasked roles, binary media)', () => {
    expect(masking.factory(view(['admin'], 'application/json', 'gzip'))).toBeUndefined();
    expect(masking.factory(view(['intern'], 'image/png', 'gzip'))).toBeUndefined();
  });
});

describe('maskingTransformers', () => {
  it('follows the config a reload swaps in, and passes everything without a masking section', () => {
    let current: ReturnType<typeof config> | undefined;
    const factory = maskingTransformers(() => current);
    expect(factory(view(['admin']))).toBeUndefined();
    current = config(RULES);
    expect(factory(view(['admin']))).toBeUndefined();
    expect(factory(view(['analyst']))).toBeDefined();
    current = config({ rules: [{ roles: ['admin'], mask: ['email'] }] });
    expect(factory(view(['admin']))!.push(Buffer.from('"a@b.io"'), true).toString()).toBe('"[email]"');
  });
});
