// buildIdentity: a keys file's roles are held to policy.roles like inline keys' (a key with an
// undeclared role would authenticate and then match nothing).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { buildIdentity } from '../../../src/identity/build.js';

describe('buildIdentity', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-build-'));
    const key = (id: string, roles: string[]) => ({ id, hash: 'a'.repeat(64), subject: `svc:${id}`, roles });
    writeFileSync(join(dir, 'keys.yaml'), stringify({ keys: [key('ok', ['analyst']), key('typo', ['analyts', 'analyst', 'admn'])] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const config = configSchema.parse({
    identity: { order: ['api_key'], api_keys: { secret_env: 'K', keys_file: 'keys.yaml' } },
    policy: { roles: { analyst: null } },
  });

  it('refuses a keys-file role that policy.roles does not declare, naming the entry', () => {
    const built = buildIdentity(config, { baseDir: dir, env: { K: 'a-secret-of-enough-length-0123456789' }, now: Date.now });
    expect(built.ok).toBe(false);
    expect(built.ok ? [] : built.problems).toEqual([
      { path: ['identity', 'api_keys', 'keys_file'], message: "keys.yaml: keys[1].roles[0]: unknown role 'analyts' (not declared in policy.roles)" },
      { path: ['identity', 'api_keys', 'keys_file'], message: "keys.yaml: keys[1].roles[2]: unknown role 'admn' (not declared in policy.roles)" },
    ]);
  });
});
