// Issue 13, finding 14: `audit verify` / `audit report` on a mistyped path used to print OK (or
// "0 records") and exit 0, so a wrong path passed the tamper check. And finding 13 for the audit
// commands: their --config is judged like `serve` judges it, credential headers included.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainStore } from '../../../src/audit/chain-store.js';
import { runCli } from '../../helpers/audit/cli.js';
import { makeRecord } from '../../helpers/audit/traffic.js';
import { tempStore, TEST_HASH_KEY, type TempStore } from '../../helpers/audit/fixtures.js';

describe('audit verify and report need a trail', () => {
  let fx: TempStore;
  let missing: string;
  let empty: string;
  let file: string;
  beforeAll(async () => {
    fx = await tempStore();
    missing = join(fx.root, 'no-such-store');
    empty = join(fx.root, 'empty-store');
    file = join(fx.root, 'a-file');
    await mkdir(empty);
    await writeFile(file, 'not a store');
    const store = await ChainStore.open({ dir: fx.dir, signingKey: fx.key, batchMaxDelayMs: 1 });
    await store.append([makeRecord({ time: '2025-03-10T12:00:00.000Z' })]);
    await store.close();
  });
  afterAll(() => fx.cleanup());

  it('verify fails on a missing, empty or non-directory path, and passes a real trail', async () => {
    const verify = (dir: string) => runCli(['audit', 'verify', dir]);
    const [gone, none, notDir, real] = await Promise.all([verify(missing), verify(empty), verify(file), verify(fx.dir)]);
    expect(gone).toMatchObject({ code: 1, stdout: `FAILED: ${missing} does not exist: nothing to verify (--allow-empty accepts a missing or empty directory)\n` });
    expect(none).toMatchObject({ code: 1, stdout: `FAILED: ${empty} holds no audit segments: nothing to verify (--allow-empty accepts a missing or empty directory)\n` });
    expect(notDir.code).toBe(1);
    expect(notDir.stdout).toContain(`${file} is not a directory`);
    expect(real).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK: 1 segments, 1 chained entries/) });
  });

  it('verify --allow-empty accepts a missing or empty directory, never a file', async () => {
    const verify = (dir: string) => runCli(['audit', 'verify', dir, '--allow-empty', '--json']);
    const [gone, none, notDir] = await Promise.all([verify(missing), verify(empty), verify(file)]);
    expect(gone.code).toBe(0);
    expect(JSON.parse(gone.stdout)).toMatchObject({ ok: true, entries: 0, issues: [] });
    expect(none.code).toBe(0);
    expect(notDir.code).toBe(1);
    expect(JSON.parse(notDir.stdout)).toMatchObject({ ok: false, issues: [{ kind: 'no_trail' }] });
  });

  it('report fails on a missing or empty directory unless --allow-empty', async () => {
    const [gone, none, allowed] = await Promise.all([
      runCli(['audit', 'report', missing, '--json']),
      runCli(['audit', 'report', empty]),
      runCli(['audit', 'report', missing, '--json', '--allow-empty']),
    ]);
    expect(gone).toMatchObject({ code: 1, stdout: '' });
    expect(gone.stderr).toBe(`modelgate audit: ${missing} does not exist: nothing to report (--allow-empty accepts a missing or empty directory)\n`);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`${empty} holds no audit segments`);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ records: 0 });
  });

  it("audit serve refuses a config that keeps this deployment's API-key header, naming file and line", async () => {
    const config = join(fx.root, 'modelgate.yaml');
    await writeFile(
      config,
      `identity:
  api_keys: { header: x-model-key }
audit:
  privacy:
    keep: [{ name: x-model-key, mode: plain }]
`,
    );
    const r = await runCli(['audit', 'serve', '--config', config, '--listen', '127.0.0.1:0', '--dir', join(fx.root, 'serve-store')], {
      MODELGATE_AUDIT_HASH_KEY: TEST_HASH_KEY,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `modelgate audit: invalid configuration\n${config}:5: audit.privacy.keep[0].name: 'x-model-key' carries a credential (identity.api_keys.header); credentials are never stored in the audit trail, hashed or plain\n`,
    );
  });
});
