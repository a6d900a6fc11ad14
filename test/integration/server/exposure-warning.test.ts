// Issue 13, finding 7: a Check port beyond loopback without TLS is announced loudly at startup
// (`serve`) and by `validate`; loopback (the default) and an acknowledged hop are not.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, startServe, type ServeProcess } from '../../helpers/serve-process.js';

const run = promisify(execFile);
const POLICY = `policy:\n  roles: {}\n`;

async function warnings(serve: ServeProcess): Promise<Array<Record<string, unknown>>> {
  // The exposure lines follow the "serving" line in the same start, after the HTTP listener binds.
  await new Promise((r) => setTimeout(r, 1_000));
  return serve.lines.filter((l) => typeof l.msg === 'string' && (l.msg as string).includes('beyond loopback'));
}

describe('exposed Check ports', () => {
  let dir: string;
  const running: ServeProcess[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-exposure-'));
    writeFileSync(join(dir, 'open.yaml'), `server:\n  admin: { enabled: false }\n  http: { enabled: true, address: '0.0.0.0:0' }\n${POLICY}`);
    writeFileSync(join(dir, 'loopback.yaml'), `server:\n  admin: { enabled: false }\n  http: { enabled: true, address: '127.0.0.1:0' }\n${POLICY}`);
    writeFileSync(join(dir, 'acked.yaml'), `server:\n  admin: { enabled: false }\n  grpc: { allow_plaintext_beyond_loopback: true }\n${POLICY}`);
  });
  afterAll(() => {
    for (const s of running) s.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serve warns once per exposed listener, naming the key, the address and the fix', async () => {
    const serve = await startServe(['--workers', '1', '--config', join(dir, 'open.yaml'), '--address', '0.0.0.0:0']);
    running.push(serve);
    const lines = await warnings(serve);
    expect(lines.map((l) => [l.level, l.listener, l.security])).toEqual([
      ['warn', 'server.grpc', 'exposed_check_port'],
      ['warn', 'server.http', 'exposed_check_port'],
    ]);
    expect(lines[0]!.msg).toMatch(/^SECURITY WARNING: server\.grpc listens on 0\.0\.0\.0:0 beyond loopback without TLS/);
    expect(lines[1]!.msg).toMatch(/^SECURITY WARNING: server\.http listens on 0\.0\.0\.0:0 beyond loopback and trusts every control header/);
  });

  it('serve on loopback says nothing; an acknowledged hop gets an info line, not a warning', async () => {
    const quiet = await startServe(['--workers', '1', '--config', join(dir, 'loopback.yaml'), '--address', '127.0.0.1:0']);
    running.push(quiet);
    expect(await warnings(quiet)).toEqual([]);
    const acked = await startServe(['--workers', '1', '--config', join(dir, 'acked.yaml'), '--address', '0.0.0.0:0']);
    running.push(acked);
    const lines = await warnings(acked);
    expect(lines.map((l) => [l.level, l.listener])).toEqual([['info', 'server.grpc']]);
    expect(lines[0]!.msg).not.toContain('SECURITY WARNING');
  });

  it('validate prints the warning on stderr and still exits 0', async () => {
    writeFileSync(join(dir, 'open-grpc.yaml'), `server:\n  grpc: { address: '0.0.0.0:9191' }\n${POLICY}`);
    const { stdout, stderr } = await run(process.execPath, [...CLI, 'validate', join(dir, 'open-grpc.yaml')]);
    expect(stdout).toContain(': OK');
    expect(stderr).toMatch(/^SECURITY WARNING: server\.grpc listens on 0\.0\.0\.0:9191 beyond loopback without TLS/m);
  });
});
