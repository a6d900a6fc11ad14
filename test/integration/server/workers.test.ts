// `modelgate serve --workers 2` as a real process: two worker processes share one gRPC port (each
// decision line names its pid), and SIGTERM to the primary stops them all with exit 0.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';
import { freePort, startServe } from '../../helpers/serve-process.js';

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
    const { proc, lines } = await startServe(['--config', join(dir, 'modelgate.yaml'), '--address', `127.0.0.1:${port}`, '--workers', '2'], 2);
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
