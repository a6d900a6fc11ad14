// `modelgate serve --workers 2` as a real process: the primary alone serves the admin port, /metrics
// sums every worker's counters (each scrape sees all checks, not one worker's share), /readyz holds
// for the whole group, and SIGTERM still stops everything with exit 0.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';
import { freePort, startServe } from '../../helpers/serve-process.js';
import { parseExposition, value, type Sample } from '../../helpers/scrape.js';

const CHECKS = 20;

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Polls until every worker has told the primary it is ready (the "serving" log line comes just before). */
async function untilReady(port: number): Promise<{ status: number; body: string }> {
  for (let i = 0; ; i++) {
    const res = await get(port, '/readyz');
    if (res.status === 200 || i === 100) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('modelgate serve --workers 2: one admin port for the group', () => {
  let dir: string;
  let grpcPort: number;
  let adminPort: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-cluster-admin-'));
    grpcPort = await freePort();
    adminPort = await freePort();
    writeFileSync(
      join(dir, 'modelgate.yaml'),
      `server:
  grpc: { address: '127.0.0.1:${grpcPort}' }
  admin: { address: '127.0.0.1:${adminPort}' }
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

  it('sums every worker into /metrics, answers /readyz for all of them, and exits 0 on SIGTERM', async () => {
    const { proc, lines, stderr } = await startServe(['--config', join(dir, 'modelgate.yaml'), '--workers', '2'], 2);
    try {
      expect((await untilReady(adminPort)).status).toBe(200);

      // One connection per client, so the primary's round-robin spreads the checks over both workers.
      for (let i = 0; i < CHECKS; i++) {
        const client = checkClient(`127.0.0.1:${grpcPort}`);
        try {
          const res = await client.check(envoyCheckRequest({ principal: `spiffe://t/caller-${i}` }));
          expect(res.status.code).toBe(0);
        } finally {
          client.close();
        }
      }
      const pids = new Set(lines.filter((l) => l.msg === 'decision').map((d) => d.pid));
      expect(pids.size).toBe(2); // both workers counted something, so a one-worker scrape would fall short

      for (let scrape = 0; scrape < 6; scrape++) {
        const res = await get(adminPort, '/metrics');
        expect(res.status).toBe(200);
        const samples: Sample[] = parseExposition(res.body);
        expect(value(samples, 'modelgate_checks_total')).toBe(CHECKS);
        expect(value(samples, 'modelgate_checks_total', { decision: 'allow', reason: 'allowed', auth_method: 'mtls' })).toBe(CHECKS);
        expect(value(samples, 'modelgate_check_duration_seconds_count')).toBe(CHECKS);
        expect(value(samples, 'modelgate_check_duration_seconds_bucket', { le: '+Inf' })).toBe(CHECKS);
        // Same config in both workers: one policy series, valued 1 (not 2).
        const info = samples.filter((s) => s.name === 'modelgate_policy_info');
        expect(info).toHaveLength(1);
        expect(info[0]!.value).toBe(1);
      }

      const ready = await get(adminPort, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatch(/^ready: 2 of 2 workers ready\n/);
      for (const pid of pids) expect(ready.body).toMatch(new RegExp(`worker ${String(pid)}: ready: policy sha256 [0-9a-f]{64}`));
      expect((await get(adminPort, '/healthz')).status).toBe(200);
      expect(stderr()).toMatch(new RegExp(`serving metrics and health on port ${adminPort}`));

      const exited = new Promise<number | null>((ok) => proc.on('exit', ok));
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      // Workers started no admin server of their own.
      expect(lines.filter((l) => l.msg === 'modelgate serving metrics and health')).toHaveLength(0);
    } finally {
      proc.kill('SIGKILL');
    }
  }, 60_000); // three processes starting through tsx on a busy 2-core machine
});
