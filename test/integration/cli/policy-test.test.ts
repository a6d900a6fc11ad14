// `modelgate test` as a child process: the example policy's tests pass; a changed expectation
// fails with a readable expected-vs-actual diff and exit code 1.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from '../../helpers/run-cli.js';

describe('modelgate test', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-cli-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes the example policy tests without any generated dev secret', async () => {
    const res = await runCli(['test', 'examples/tests']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('examples/tests/modelgate.test.yaml  (config examples/modelgate.yaml)');
    expect(res.stdout).toContain('  ✓ an analyst predicts with fraud-detector');
    expect(res.stdout).toContain('  ✓ chat completions over the token cap are denied (body cap)');
    expect(res.stdout).toContain('  ✓ the shadow rule reports analysts on churn but does not deny');
    expect(res.stdout).toContain('  ✓ no credential is a 401 with a Bearer challenge');
    expect(res.stdout).not.toContain('✗');
    expect(res.stdout).toMatch(/\n\d+ passed, 0 failed\n$/);
  });

  it('fails a changed expectation with a readable diff and exit 1 (a copy with no dev assets beside it)', async () => {
    // The config is copied where no ../.modelgate exists: the tests need no generated key or secret.
    const examples = join(dir, 'examples');
    mkdirSync(join(examples, 'tests'), { recursive: true });
    copyFileSync(join(REPO, 'examples/modelgate.yaml'), join(examples, 'modelgate.yaml'));
    const original = readFileSync(join(REPO, 'examples/tests/modelgate.test.yaml'), 'utf8');
    const changed = original.replace(
      'expect: { decision: allow, rule: viewers-read, model: churn, action: read, status: 200 }',
      'expect: { decision: deny, rule: viewers-read, model: churn, action: read, status: 403 }',
    );
    expect(changed).not.toBe(original);
    writeFileSync(join(examples, 'tests', 'changed.test.yaml'), changed);
    writeFileSync(join(examples, 'tests', 'unchanged.test.yaml'), original);
    const total = (original.match(/^ {2}- name:/gm) ?? []).length;

    const res = await runCli(['test', join(examples, 'tests')]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('  ✗ a viewer reads a model card');
    expect(res.stdout).toContain(
      ['      decision  expected: deny', '                actual:   allow', '      status    expected: 403', '                actual:   200'].join('\n'),
    );
    expect(res.stdout).toContain('got: ALLOW 200 allowed by viewers-read · caller jwt:dev:victor (jwt; roles viewer) · model churn · action read');
    expect(res.stdout).toContain(`${2 * total - 1} passed, 1 failed`);
  });

  it('reports a broken test file with key paths and fails', async () => {
    writeFileSync(join(dir, 'broken.test.yaml'), 'config: nowhere.yaml\nnow: yesterday\ncases:\n  - name: x\n    expect: { decison: allow }\n');
    const res = await runCli(['test', join(dir, 'broken.test.yaml')]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('cannot run this file');
    expect(res.stdout).toMatch(/broken\.test\.yaml: now: /);
    expect(res.stdout).toContain("cases[0].expect.decison: unknown field 'decison'");
    expect(res.stdout).toContain('0 passed, 1 failed');
  });
});
