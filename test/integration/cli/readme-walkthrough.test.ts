// The README's five-minute walkthrough, as a newcomer runs it: `npm start` in a fresh copy of the
// repository (so the first start generates the dev keys and prints the dev API key), then the
// walkthrough's shell block, each step's outcome compared with the claim in the comment above it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../helpers/serve-process.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

interface Step {
  readonly claim: string;
  readonly commands: string;
  readonly decision: 'ALLOW' | 'DENY';
  readonly status?: number;
  readonly reason?: string;
}

/** The walkthrough's ```sh block, cut into steps: a comment with a `→` claim, then its commands. */
function walkthroughSteps(): { alias: string; steps: Step[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Five-minute walkthrough'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  const [alias, ...rest] = block.split('\n\n');
  const steps = rest.map((chunk): Step => {
    const lines = chunk.trim().split('\n');
    const claim = lines[0]!;
    const m = /→ (ALLOW|DENY)(?: (\d{3}))?(?:.*?reason=(\w+))?/.exec(claim);
    if (!m) throw new Error(`README walkthrough step without an outcome claim: ${claim}`);
    return { claim, commands: lines.slice(1).join('\n'), decision: m[1] as Step['decision'], status: m[2] ? Number(m[2]) : undefined, reason: m[3] };
  });
  return { alias: alias!, steps };
}

describe('README five-minute walkthrough', () => {
  let dir: string;
  let server: ChildProcess;
  let grpcAddress: string;
  let output = '';
  const { alias, steps } = walkthroughSteps();

  beforeAll(async () => {
    // A fresh checkout: no .modelgate/ yet. src/ is copied, not linked: the dev assets live next
    // to the real path of src/cli/dev-assets.ts.
    dir = mkdtempSync(join(tmpdir(), 'modelgate-walkthrough-'));
    for (const entry of ['src', 'scripts', 'examples', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    grpcAddress = `127.0.0.1:${await freePort()}`;
    server = spawn('npm', ['start'], {
      cwd: dir,
      env: {
        ...process.env,
        MODELGATE_GRPC_ADDRESS: grpcAddress,
        MODELGATE_ADMIN_ADDRESS: `127.0.0.1:${await freePort()}`,
        MODELGATE_HTTP_ADDRESS: `127.0.0.1:${await freePort()}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    server.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 45_000;
    while (!output.includes('modelgate serving ext_authz')) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not serve:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);
  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the block starts with the alias the steps use', () => {
    expect(alias).toBe("alias mg='npx tsx src/cli/index.ts'");
    expect(steps.length).toBeGreaterThanOrEqual(6);
  });

  it('the first npm start prints the dev API key the last step uses', () => {
    expect(output).toMatch(/Generated a dev API key for subject \S+/);
    expect(output).toMatch(/mgk_reporting-bot_\S+/);
  });

  it('check --json into a reader that stops early: no EPIPE stack trace', async () => {
    // `true` exits without reading, so the CLI's write meets a closed pipe.
    const script = `set -o pipefail; node --import tsx src/cli/index.ts check --address ${grpcAddress} --json --path /v1/models/churn:predict | true`;
    const result = await run('bash', ['-c', script], { cwd: dir }).catch((error: { stdout: string; stderr: string; code: number }) => error);
    expect(result.stderr).toBe('');
  });

  it.each(walkthroughSteps().steps.map((s) => [s.claim, s] as const))('%s', async (_claim, step) => {
    const apiKey = /mgk_reporting-bot_\S+/.exec(output)![0];
    // The alias's command without npx's start-up cost, pointed at this test's port (the README's
    // server listens on the default 9191).
    const cli = 'node --import tsx src/cli/index.ts';
    const script = [
      'set -euo pipefail',
      `mg() { if [ "$1" = check ]; then shift; ${cli} check --address ${grpcAddress} "$@"; else ${cli} "$@"; fi; }`,
      // Steps that reuse $TOKEN (set by the first step) get it again here.
      steps[0]!.commands.split('\n')[0]!,
      step.commands.replace('mgk_reporting-bot_…', apiKey),
    ].join('\n');
    const result = await run('bash', ['-c', script], { cwd: dir }).catch((error: { stdout: string; stderr: string; code: number }) => error);
    const first = result.stdout.split('\n')[0]!;
    const words = /^(ALLOW|DENY) (\d+) reason=(\w+)/.exec(first);
    expect(words, `output: ${result.stdout}${result.stderr}`).not.toBeNull();
    expect(words![1]).toBe(step.decision);
    if (step.status !== undefined) expect(Number(words![2])).toBe(step.status);
    if (step.reason !== undefined) expect(words![3]).toBe(step.reason);
  });
});
