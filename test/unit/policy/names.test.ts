// Issue 13, finding 4: the safe-name pattern, its load-time guard, and the canonical model case.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/problems.js';
import { buildStages } from '../../../src/app/build-stages.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';
import { DEFAULT_NAME_PATTERN, canonicalModel, nameChecker } from '../../../src/policy/names.js';

const fixture = (name: string) => join('test', 'fixtures', 'config', name);

function problemsOf(name: string): readonly string[] {
  try {
    const loaded = loadConfig(fixture(name), {});
    const built = buildStages(loaded, { env: {}, now: Date.now, limiter: unlimited });
    return built.ok ? [] : built.problems.map(loaded.describe);
  } catch (error) {
    if (error instanceof ConfigError) return error.lines;
    throw error;
  }
}

describe('the default safe-name pattern', () => {
  const safe = nameChecker({ pattern: DEFAULT_NAME_PATTERN });
  it.each(['gpt-4o-mini', 'meta-llama/Llama-3-8B-Instruct', 'claude-3-5-sonnet@20240620', 'anthropic.claude-v2:1', 'llama3:8b', 'churn', 'a'])(
    'accepts the real model id %s',
    (name) => expect(safe(name)).toBe(true),
  );
  it.each(['churn ', ' churn', 'churn;v=1', 'churn\u200b', 'churn\n', 'churn\u0000', 'ch urn', '', '-churn', '.churn', 'churn%20', 'a'.repeat(129)])(
    'refuses %j',
    (name) => expect(safe(name)).toBe(false),
  );
  it('compares models in lower case', () => {
    expect(canonicalModel('Meta-Llama/Llama-3-8B-Instruct')).toBe('meta-llama/llama-3-8b-instruct');
  });
});

describe('policy.targets.names config errors', () => {
  it.each([
    ['name-pattern-unanchored.yaml', [`${fixture('name-pattern-unanchored.yaml')}:5: policy.targets.names.pattern: must be anchored: start with ^ and end with $`]],
    ['name-pattern-allows-space.yaml', [`${fixture('name-pattern-allows-space.yaml')}:5: policy.targets.names.pattern: must refuse names with a trailing space ("churn " matches)`]],
    ['target-model-unsafe.yaml', [`${fixture('target-model-unsafe.yaml')}:5: policy.targets.paths[0].model: 'churn v2' does not match policy.targets.names.pattern`]],
  ])('%s', (name, expected) => {
    expect(problemsOf(name)).toEqual(expected);
  });
});
