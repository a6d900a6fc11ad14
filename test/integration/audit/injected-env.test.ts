// The audit hash key comes from the environment serve is started with (startModelgate's `env`), not
// from whatever this process happens to have: an embedded or test instance passes its own.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGate } from '../../helpers/gate.js';

const VAR = 'MODELGATE_TEST_INJECTED_AUDIT_HASH_KEY';

describe('audit privacy reads the injected env', () => {
  let dir: string;
  let yaml: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-audit-env-'));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    yaml = `
policy:
  roles: {}
audit:
  store: { dir: '${join(dir, 'store')}', signing_key_file: '${join(dir, 'audit.key')}' }
  privacy: { hash_key_env: ${VAR} }
  receiver: { listen: '127.0.0.1:0' }
`;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts with the key in the injected env, and names the variable without it', async () => {
    expect(process.env[VAR]).toBeUndefined();
    const gate = await startTestGate(yaml, { env: { [VAR]: 'an-injected-hash-key-0123456789' } });
    expect(gate.gate.auditPort).toBeGreaterThan(0);
    await gate.close();
    await expect(startTestGate(yaml)).rejects.toThrow(new RegExp(`set ${VAR} or hash_key_file`));
  });
});
