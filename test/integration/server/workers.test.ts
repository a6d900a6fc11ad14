// `modelgate serve --workers 2` as a real process: two worker processes share one gRPC port (each
// decision line names its pid), and SIGTERM to the primary stops them all with exit 0.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';

const CLI = ['--import', 'tsx', 'src/cli/index.ts'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Resolves once `count` distinct processes logged that they serve. */
function startWorkers(config: string, port: number, count: number): Promise<{ proc: ChildProcess; lines: Array<Record<string, unknown>> }> {
  const proc = spawn(process.execPath, [...CLI, 'serve', '--config', config, '--address', `127.0.0.1:${port}`, '--workers', String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let serving = 0;
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line.msg === 'modelgate serving ext_authz' && ++serving === count) resolve({ proc, lines });
      }
    });
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

describe('modelgate serve --workers 2', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-workers-'));
    writeFileSync(
      join(dir, 'modelgate.yaml'),
      `server: { admin: { enabled: false } }
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://t/*', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('spreads connections over two worker processes and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const { proc, lines } = await startWorkers(join(dir, 'modelgate.yaml'), port, 2);
    try {
      // One connection per client; the primary hands connections to the workers round-robin.
      for (let i = 0; i < 6; i++) {
        const client = checkClient(`127.0.0.1:${port}`);
        try {
          const res = await client.check(envoyCheckRequest({ principal: `spiffe://t/caller-${i}` }));
          expect(res.status.code).toBe(0);
        } finally {
          client.close();
        }
      }
      const exited = new Promise<number | null>((ok) => proc.on('exit', ok));
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      const decisions = lines.filter((l) => l.msg === 'decision');
      expect(decisions).toHaveLength(6);
      expect(decisions.every((d) => d.decision === 'allow')).toBe(true);
      const pids = new Set(decisions.map((d) => d.pid));
      expect(pids.size).toBe(2);
      expect(pids.has(proc.pid)).toBe(false); // the primary serves nothing itself
      expect(lines.filter((l) => l.msg === 'shutting down: no new checks, finishing in-flight ones')).toHaveLength(2);
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
