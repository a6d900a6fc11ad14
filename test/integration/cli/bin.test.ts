// The installed command: `npm install -g .` puts a working `modelgate` on PATH (package.json's bin),
// and `--version` prints package.json's version.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

describe('npm install -g . gives a modelgate command', () => {
  let prefix: string;
  beforeAll(async () => {
    prefix = mkdtempSync(join(tmpdir(), 'modelgate-global-'));
    await run('npm', ['install', '-g', '.', '--prefix', prefix, '--no-audit', '--no-fund'], { cwd: ROOT });
  }, 60_000);
  afterAll(() => rmSync(prefix, { recursive: true, force: true }));

  const modelgate = (...args: string[]) => run(join(prefix, 'bin', 'modelgate'), args, { cwd: tmpdir() });

  it('prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await modelgate('--version')).stdout.trim()).toBe(version);
  });

  it('runs from any directory: --help lists the commands, validate checks a config', async () => {
    const help = (await modelgate('--help')).stdout;
    for (const command of ['serve', 'validate', 'check', 'explain', 'audit']) expect(help).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    // A self-contained config: the example's dev keys exist only after a first `npm start`.
    const config = join(prefix, 'modelgate.yaml');
    writeFileSync(config, 'policy:\n  roles: { analyst: null }\n  rules: [{ id: analysts, effect: allow, roles: [analyst] }]\n');
    const out = await modelgate('validate', config);
    expect(out.stdout).toContain(`${config}: OK (1 rules`);
  });
});
