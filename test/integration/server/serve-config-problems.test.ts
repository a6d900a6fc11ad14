// `serve` goes through the same loader as `validate` (app/load-stages.ts): a config whose schema
// fails still gets the policy problems of the rules that parse, in the one message of a failed
// start, single-process and from the cluster primary alike.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../../helpers/serve-process.js';

const run = promisify(execFile);

describe('serve reports every problem of a broken config', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-serve-problems-'));
    file = join(dir, 'modelgate.yaml');
    writeFileSync(
      file,
      ['server:', '  shutdown_grace_seconds: soon', 'policy:', '  roles: { analyst: null }', '  rules:', '    - { id: a, effect: allow, roles: [analyts] }', ''].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([['1'], ['2']])('--workers %s: exit 1, the schema error and the unknown role', async (workers) => {
    const failed = await run(process.execPath, [...CLI, 'serve', '--config', file, '--workers', workers], { timeout: 45_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split('\n')).toEqual([
      `${file}: invalid configuration`,
      `  ${file}:2: server.shutdown_grace_seconds: expected a number, got text`,
      `  ${file}:6: policy.rules[0].roles[0]: unknown role 'analyts' (not declared in policy.roles)`,
    ]);
  }, 60_000);
});
