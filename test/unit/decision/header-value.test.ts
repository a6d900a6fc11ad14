// Issue 13, finding 11: the one header-value rule, its escape, and config values refused at load.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/problems.js';
import { headerValueProblem, isHeaderValue, safeHeaderValue } from '../../../src/decision/header-value.js';
import { answerBuilder } from '../../../src/decision/answer.js';
import { encodeHttpAnswer } from '../../../src/http/encode.js';
import type { Decision } from '../../../src/decision/decision.js';

const fixture = (name: string) => join('test', 'fixtures', 'config', name);

describe('isHeaderValue / safeHeaderValue', () => {
  it.each(['', 'alice', 'svc:reporting-bot', 'a\tb', 'é ü 中', 'mtls:spiffe://t/ns/a'])('keeps %j as it is', (v) => {
    expect(isHeaderValue(v)).toBe(true);
    expect(safeHeaderValue(v)).toBe(v);
  });

  it.each([
    ['a\r\nb', 'a\\u000d\\u000ab'],
    ['a\u0000', 'a\\u0000'],
    ['a\u007f', 'a\\u007f'],
    ['a\u001b[31m', 'a\\u001b[31m'],
    [' a', '\\u0020a'],
    ['a \t', 'a\\u0020\\u0009'],
    ['  ', '\\u0020\\u0020'],
    ['a b', 'a b'],
  ])('escapes %j as %j', (v, escaped) => {
    expect(safeHeaderValue(v)).toBe(escaped);
    expect(isHeaderValue(safeHeaderValue(v))).toBe(true);
  });

  it('says why a value is refused', () => {
    expect(headerValueProblem('a\nb')).toBe('contains the control character U+000A, which no header value may carry');
    expect(headerValueProblem('a ')).toBe('starts or ends with whitespace, which HTTP trims from a header value');
    expect(headerValueProblem('a')).toBeUndefined();
  });
});

describe('both encoders get the same identity values', () => {
  const build = answerBuilder({ upstream_headers: { subject: 'x-s', roles: 'x-r', tenant: 'x-t', auth_method: 'x-m', decision_id: 'x-d' }, tenant_attribute: 'org', strip_credentials: true, headers_to_remove: [], realm: 'r' }, [], 503);
  const decision: Decision = {
    allowed: true,
    reason: 'allowed',
    shadowRules: [],
    identity: { subject: 'mtls:spiffe://t/a\r\nx: 1', method: 'mtls', roles: [], scopes: [], attributes: { org: 'ml\u0000' } } as unknown as Decision['identity'],
  };
  it('escapes in the protocol-neutral answer, and HTTP mode sends it unchanged', () => {
    const answer = build(decision, { decisionId: 'd', requestId: 'r' });
    const upstream = Object.fromEntries(answer.upstreamHeaders);
    expect(upstream['x-s']).toBe('mtls:spiffe://t/a\\u000d\\u000ax: 1');
    expect(upstream['x-t']).toBe('ml\\u0000');
    const http = Object.fromEntries(encodeHttpAnswer(answer, ['x-s', 'x-r', 'x-t', 'x-m', 'x-d']).headers);
    expect(http['x-s']).toBe(upstream['x-s']);
    expect(http['x-t']).toBe(upstream['x-t']);
  });
});

describe('config values that become header values are refused at load', () => {
  const problems = (name: string): readonly string[] => {
    try {
      loadConfig(fixture(name), { MODELGATE_API_KEY_SECRET: 'x'.repeat(32) });
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.lines;
      throw error;
    }
  };
  it.each([
    ['api-key-subject-newline.yaml', [`${fixture('api-key-subject-newline.yaml')}:6: identity.api_keys.keys[0].subject: contains the control character U+000D, which no header value may carry`]],
    ['workload-attribute-nul.yaml', [`${fixture('workload-attribute-nul.yaml')}:5: identity.mtls.workloads[0].attributes.org: contains the control character U+0000, which no header value may carry`]],
    ['realm-trailing-space.yaml', [`${fixture('realm-trailing-space.yaml')}:2: answer.realm: starts or ends with whitespace, which HTTP trims from a header value`]],
  ])('%s', (name, expected) => {
    expect(problems(name)).toEqual(expected);
  });
});
