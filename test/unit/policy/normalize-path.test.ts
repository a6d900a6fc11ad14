// Path normalization: one canonical form for matching, and refusal of anything ambiguous.

import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../../src/policy/normalize-path.js';
import { compilePathPattern } from '../../../src/policy/target.js';

describe('normalizePath', () => {
  it.each([
    ['/v1/models/a:predict', '/v1/models/a:predict'],
    ['/v1/models/a/../b:predict', '/v1/models/b:predict'],
    ['/v1/./models//b', '/v1/models/b'],
    ['/v1/models/b?x=/../../admin', '/v1/models/b'],
    ['/v1/models/b#frag', '/v1/models/b'],
    ['/v1/%6Dodels/b', '/v1/models/b'],
    ['/v1/models/b/', '/v1/models/b/'],
    ['/', '/'],
  ])('%s → %s', (raw, expected) => {
    expect(normalizePath(raw)).toEqual({ ok: true, path: expected });
  });

  it.each([
    ['/..', 'path escapes root'],
    ['/a/../../b', 'path escapes root'],
    ['/a%2Fb', 'encoded or back slash in path'],
    ['/a%5cb', 'encoded or back slash in path'],
    ['/a\\b', 'encoded or back slash in path'],
    ['/v1/models/%2E%2E/secret', 'encoded dot in path'],
    ['/a%zz', 'invalid percent-encoding'],
    ['/a%00', 'control character in path'],
    ['/a%0d%0aX-Injected:1', 'control character in path'],
    // Issue 13, finding 4: upstreams strip `;params`, so `churn;v=1` names churn there.
    ['/v1/models/churn;v=1:train', "';' in path (a path parameter an upstream may strip)"],
    ['/v1/models/churn%3Bv=1:train', "';' in path (a path parameter an upstream may strip)"],
    ['/v1;x/models/churn:train', "';' in path (a path parameter an upstream may strip)"],
    ['a/b', 'path does not start with /'],
    ['', 'path does not start with /'],
  ])('refuses %s', (raw, detail) => {
    expect(normalizePath(raw)).toEqual({ ok: false, detail });
  });
});

describe('compilePathPattern', () => {
  it('captures one segment piece for {model}', () => {
    const re = compilePathPattern('/v1/models/{model}:predict');
    expect(re.exec('/v1/models/fraud-detector:predict')?.[1]).toBe('fraud-detector');
    expect(re.exec('/v1/models/a/b:predict')).toBeNull();
    expect(re.exec('/v1/models/:predict')).toBeNull();
  });
  it('keeps the delimiter after {model} out of the model, so a second one cannot shift it', () => {
    const re = compilePathPattern('/v1/models/{model}:predict');
    expect(re.exec('/v1/models/churn:x:predict')).toBeNull();
    expect(compilePathPattern('/m/{model}-v1').exec('/m/a-b-v1')).toBeNull();
    expect(compilePathPattern('/m/{model}]x').exec('/m/a]b]x')).toBeNull();
    expect(compilePathPattern('/m/{model}]x').exec('/m/a]x')?.[1]).toBe('a');
    expect(compilePathPattern('/m/{model}/invoke').exec('/m/anthropic.claude-v2:1/invoke')?.[1]).toBe('anthropic.claude-v2:1');
  });
  it('escapes regex characters in the literal parts', () => {
    expect(compilePathPattern('/v1/a.b').test('/v1/aXb')).toBe(false);
  });
});
