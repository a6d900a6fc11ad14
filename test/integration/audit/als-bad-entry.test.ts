// Issue 13, finding 1: one access-log entry used to end the whole process (Check service included).
// A real grpc-js AccessLogService client sends a bad entry between good ones, over a socket, to
// `modelgate serve` (on its audit receiver listener) and to `modelgate audit serve` as child
// processes: the process stays up, the Check port keeps answering, later good entries land, and the chain verifies.

import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecords } from '../../../src/audit/store-scan.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';
import { CLI, startServe } from '../../helpers/serve-process.js';
import { batches, farFutureEntry, goodEntry, streamMessages } from '../../helpers/audit/als-client.js';
import { REPO } from '../../helpers/audit/cli.js';
import { serveWithAuditYaml } from '../../helpers/audit/fixtures.js';

const HASH_KEY = 'test-hash-key-0123456789abcdef';

async function requestIds(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const r of readRecords(dir)) ids.push(r.request_id);
  return ids;
}

function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.once('exit', resolve)));
}

/** good-1, the bad entry and good-2 in one stream (two messages), then good-3 on a second stream. */
async function attack(port: number): Promise<void> {
  expect(await streamMessages(port, batches([goodEntry('good-1'), farFutureEntry('bad-1')], [goodEntry('good-2')]))).toBeNull();
  expect(await streamMessages(port, batches([farFutureEntry('bad-2')], [goodEntry('good-3')]))).toBeNull();
}

describe('a bad access-log entry is dropped, never fatal', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-als-bad-'));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('modelgate serve: the Check port keeps answering and later entries land', async () => {
    const store = join(dir, 'serve-store');
    writeFileSync(join(dir, 'serve.yaml'), serveWithAuditYaml({ store, signingKeyFile: join(dir, 'audit.key') }));
    const { proc, port, lines } = await startServe(['--workers', '1', '--config', join(dir, 'serve.yaml'), '--address', '127.0.0.1:0'], 1, {
      MODELGATE_AUDIT_HASH_KEY: HASH_KEY,
    });
    const client = checkClient(`127.0.0.1:${port}`);
    const alsPort = Number(lines.find((l) => l.msg === 'modelgate serving the audit receiver')?.port);
    try {
      expect(alsPort).toBeGreaterThan(0);
      await attack(alsPort);
      expect(proc.exitCode).toBeNull();
      // The drop is warned about (rate-limited) and counted, in serve as in `audit serve`.
      await expect
        .poll(() => lines.find((l) => l.msg === 'audit receiver dropped access-log entries'))
        .toMatchObject({ reason: 'entry_invalid', dropped_total: 1 });
      const res = await client.check(envoyCheckRequest({ principal: 'spiffe://t/a' }));
      expect(res.status.code).toBe(0);
      const exited = exitOf(proc);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      client.close();
      proc.kill('SIGKILL');
    }
    expect(await requestIds(store)).toEqual(['good-1', 'good-2', 'good-3']);
    expect(await verifyStore(store)).toMatchObject({ ok: true, issues: [] });
  });

  it('modelgate audit serve: drops, counts and warns, and keeps serving', async () => {
    const store = join(dir, 'audit-store');
    const child = spawn(process.execPath, [...CLI, 'audit', 'serve', '--listen', '127.0.0.1:0', '--dir', store, '--key', join(dir, 'audit.key')], {
      cwd: REPO,
      env: { ...process.env, MODELGATE_AUDIT_HASH_KEY: HASH_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on port (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`audit serve exited early with ${code}: ${stderr}`)));
      });
      await attack(port);
      expect(child.exitCode).toBeNull();
      const exited = exitOf(child);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await requestIds(store)).toEqual(['good-1', 'good-2', 'good-3']);
    expect(await verifyStore(store)).toMatchObject({ ok: true, issues: [] });
    const warnings = stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'audit receiver dropped access-log entries');
    // Rate-limited: the first drop warns at once; the second, within the interval, is counted.
    expect(warnings[0]).toMatchObject({ level: 40, reason: 'entry_invalid', source: 'envoy-edge-1/modelgate_audit', dropped_total: 1 });
    expect(String(warnings[0]!.detail)).toContain('start_time');
    expect(stderr).not.toContain('RangeError');
  });
});
