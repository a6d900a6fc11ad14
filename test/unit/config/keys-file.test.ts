// The one reader of identity.api_keys.keys_file (the server's identity build and the policy tests).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKeysFile } from '../../../src/config/keys-file.js';

describe('readKeysFile', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'modelgate-keys-file-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads keys relative to the config directory', () => {
    writeFileSync(join(dir, 'keys.yaml'), "keys:\n  - { id: k1, subject: 'svc:a', roles: [analyst], hash: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa }\n");
    const read = readKeysFile('keys.yaml', dir);
    expect(read.ok && read.keys.map((k) => [k.id, k.subject, k.roles])).toEqual([['k1', 'svc:a', ['analyst']]]);
  });

  it('an empty file has no keys', () => {
    writeFileSync(join(dir, 'empty.yaml'), '');
    expect(readKeysFile('empty.yaml', dir)).toEqual({ ok: true, keys: [] });
  });

  it('reports a bad entry and a missing file at identity.api_keys.keys_file', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'keys:\n  - { id: k1, subjekt: x }\n');
    const bad = readKeysFile('bad.yaml', dir);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems.length).toBeGreaterThan(0);
      for (const p of bad.problems) {
        expect(p.path).toEqual(['identity', 'api_keys', 'keys_file']);
        expect(p.message).toMatch(/^bad\.yaml: /);
      }
    }
    const missing = readKeysFile('nope.yaml', dir);
    expect(!missing.ok && missing.problems).toEqual([{ path: ['identity', 'api_keys', 'keys_file'], message: expect.stringMatching(/^cannot read nope\.yaml: ENOENT/) }]);
  });
});
