// `modelgate keys create` refuses roles the config does not declare and says which config and
// secret hashed the key (a key hashed with the example's dev secret matches nothing elsewhere).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../../helpers/serve-process.js';

const run = promisify(execFile);

describe('keys create', () => {
  let dir: string;
  let config: string;
  const env = { ...process.env, T_SECRET: 'a-test-secret-of-enough-length-0123456789' };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-keys-'));
    config = join(dir, 'modelgate.yaml');
    writeFileSync(config, `identity:\n  api_keys: { secret_env: T_SECRET }\npolicy:\n  roles: { analyst: null, viewer: null }\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a role the config does not declare, and prints no key', async () => {
    const failed = (await run(process.execPath, [...CLI, 'keys', 'create', '--id', 'ci-bot', '--role', 'analyts', '--config', config], { env }).then(
      () => ({ code: 0, stdout: 'unexpected success', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    ));
    expect(failed.code).toBe(2);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toContain(`${config}: unknown role 'analyts' (declared in policy.roles: analyst, viewer)`);
  });

  it('names the config and where the secret came from', async () => {
    const { stdout, stderr } = await run(process.execPath, [...CLI, 'keys', 'create', '--id', 'ci-bot', '--role', 'viewer', '--config', config], { env });
    expect(stdout.trim()).toMatch(/^mgk_ci-bot_/);
    expect(stderr).toContain(`Using ${config}, secret from env T_SECRET`);
  });
});
