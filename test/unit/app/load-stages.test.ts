// The one loader every caller uses (serve, reload, the cluster primary, validate, policy tests):
// every problem of a file in one result, the schema's and the policy's, roles checked wherever
// they appear, and the hash of the exact bytes read.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkedStages, loadStages, readConfig } from '../../../src/app/load-stages.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';

const options = { env: {}, now: Date.now, limiter: unlimited };

describe('loadStages', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'modelgate-load-stages-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, lines: string[]) => {
    const file = join(dir, name);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };

  it('builds a valid file, hashing the bytes it read', () => {
    const file = write('ok.yaml', ['policy:', '  roles: { analyst: null }', '  rules: [{ id: a, effect: allow, roles: [analyst] }]']);
    const result = loadStages(file, options);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.loaded.sha256).toBe(createHash('sha256').update(`policy:\n  roles: { analyst: null }\n  rules: [{ id: a, effect: allow, roles: [analyst] }]\n`).digest('hex'));
    expect(result.stages.policy.rules.map((r) => r.id)).toEqual(['a']);
  });

  it('a schema error does not hide the policy problems of the rules that parse', () => {
    const file = write('schema.yaml', [
      'server: { shutdown_grace_seconds: soon }',
      'policy:',
      '  roles: { analyst: null }',
      '  rules:',
      '    - { id: a, effect: allow, roles: [analyts] }',
      '    - { id: b, effect: permit }',
    ]);
    const result = loadStages(file, options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.lines).toEqual([
      `${file}:1: server.shutdown_grace_seconds: expected a number, got text`,
      `${file}:6: policy.rules[1].effect: must be one of: allow, deny, require_approval`,
      `${file}:5: policy.rules[0].roles[0]: unknown role 'analyts' (not declared in policy.roles)`,
    ]);
    // readConfig alone (main's first step) reports the same.
    const read = readConfig(file, {});
    expect(!read.ok && read.error.lines).toEqual(result.error.lines);
  });

  it('checks roles wherever they are granted: rules, mTLS workloads, inline API keys', () => {
    const file = write('roles.yaml', [
      'identity:',
      '  order: [mtls, api_key]',
      "  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://t/*', roles: [analyst, ops] }] }",
      "  api_keys: { secret_env: S, keys: [{ id: k1, subject: 'svc:a', roles: [admin], hash: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }] }",
      'policy:',
      '  roles: { analyst: null }',
      '  rules: [{ id: a, effect: allow, roles: [analyst, root] }]',
    ]);
    const result = loadStages(file, { ...options, env: { S: 'a-secret-of-enough-bytes' } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const roleLines = result.error.lines.filter((l) => l.includes('unknown role'));
    expect(roleLines).toEqual([
      `${file}:7: policy.rules[0].roles[1]: unknown role 'root' (not declared in policy.roles)`,
      `${file}:3: identity.mtls.workloads[0].roles[1]: unknown role 'ops' (not declared in policy.roles)`,
      `${file}:4: identity.api_keys.keys[0].roles[0]: unknown role 'admin' (not declared in policy.roles)`,
    ]);
  });

  it('names a file it cannot read, once, with the file', () => {
    const file = join(dir, 'missing.yaml');
    const result = loadStages(file, options);
    expect(!result.ok && result.error.lines).toEqual([`${file}: cannot read file: ENOENT`]);
  });

  it('checkedStages builds a config already read, wording its problems with file and line', () => {
    const file = write('secret.yaml', ['identity:', '  order: [api_key]', '  api_keys: { secret_env: MISSING, keys: [] }', 'policy: { roles: {}, rules: [] }']);
    const read = readConfig(file, {});
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    const built = checkedStages(read.loaded, options);
    expect(!built.ok && built.error.lines).toEqual([`${file}:3: identity.api_keys.secret_env: API key secret missing: set env MISSING`]);
  });
});
