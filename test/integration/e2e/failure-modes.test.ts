// Proves the edge Envoy's answer when a `modelgate serve` process is paused or stopped: 503 UAEX within the timeout, and no budget spent on checks Envoy gave up on.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVOY_BIN } from '../../helpers/envoy.js';
import { devCerts, startStack, withCheckTls, type Reply, type Stack } from '../../helpers/envoy-stack.js';
import { startServe, type ServeProcess } from '../../helpers/serve-process.js';
import { BATCH_SCORER, e2eFixture, gateYaml } from '../../helpers/e2e/fixture.js';

// Three checks an hour for batch-scorer: a check modelgate evaluated after Envoy abandoned it
// would show up as a missing token.
const LIMITS = `limits:
  buckets:
    - { id: scorer-hour, match: { subjects: ['mtls:${BATCH_SCORER}'] }, rate: 3, per: hour }`;

const ABANDONED = 'check not evaluated: Envoy had reset it (its ext_authz timeout passed)';

interface Timed extends Reply {
  readonly ms: number;
}

/** The IETF `RateLimit` header's remaining tokens and seconds until the bucket is full. */
function budget(r: Reply): { remaining: number; reset: number } {
  const m = /^"scorer-hour";r=(\d+);t=(\d+)$/.exec(String(r.headers['ratelimit']));
  if (!m) throw new Error(`no scorer-hour RateLimit header: ${JSON.stringify(r.headers)}`);
  return { remaining: Number(m[1]), reset: Number(m[2]) };
}

async function until<T>(read: () => T, done: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 25))) {
    const value = read();
    if (done(value) || Date.now() > deadline) return value;
  }
}

describe.skipIf(!ENVOY_BIN)('modelgate paused or stopped behind the edge Envoy', () => {
  let serve: ServeProcess | undefined;
  let stack: Stack;
  let dir: string;
  let certs: string | undefined;

  beforeAll(async () => {
    const fx = await e2eFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'modelgate-failure-'));
    for (const [name, content] of Object.entries(fx.files)) writeFileSync(path.join(dir, name), content);
    // Envoy's Check hop is mTLS (edge.yaml): this modelgate serves it with the stack's dev certificates.
    certs = devCerts();
    writeFileSync(path.join(dir, 'modelgate.yaml'), withCheckTls(gateYaml({ limits: LIMITS }), certs));
    // One process (--workers 1): SIGSTOP must reach the process that serves, not a cluster primary.
    // Port 0: the gRPC port comes from the "serving" line, and the admin port follows it to 0.
    serve = await startServe(['--config', path.join(dir, 'modelgate.yaml'), '--address', '127.0.0.1:0', '--workers', '1'], 1, fx.env);
    stack = await startStack({ gateYaml: '', gatePort: serve.port, certs });
  }, 60_000);

  afterAll(async () => {
    if (serve && serve.proc.exitCode === null && serve.proc.signalCode === null) {
      serve.proc.kill('SIGCONT');
      serve.proc.kill('SIGKILL');
    }
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  const predict = async (): Promise<Timed> => {
    const started = Date.now();
    const reply = await stack.call('batch-scorer', '/v1/models/fraud-detector:predict', { method: 'POST', body: '{}' });
    return { ...reply, ms: Date.now() - started };
  };

  /** Envoy's own answer to an ext_authz error: status_on_error 503, no body, no modelgate headers. */
  const expectEnvoyError = (r: Timed) => {
    expect(r.status).toBe(503);
    expect(r.body).toBe('');
    expect(r.headers['content-length']).toBe('0');
    expect(r.headers['content-type']).toBeUndefined();
  };

  /** The access log's length once the line of the last request that reached the upstream is written. */
  const logLength = async () => {
    const id = stack.upstream.received.at(-1)!.headers['x-request-id'];
    await stack.accessLogLine((l) => l.request_id === id);
    return stack.accessLog().length;
  };

  /** The access-log lines from line `from` on, once there are `count` of them. */
  const logLines = async (from: number, count: number) => {
    await stack.accessLogLine(() => true, from + count - 1);
    return stack.accessLog().slice(from);
  };

  /**
   * The edge cluster's gRPC health check (interval 5 s) never runs during these tests: Envoy checks
   * once at start, and because the cluster had carried no traffic yet it schedules the next one after
   * no_traffic_interval (60 s default), not `interval` (measured: the second attempt ~60 s after
   * start, then one every 5 s). So the host stays healthy and every 503 here is the ext_authz call
   * itself failing (timeout, refused connection), never "no healthy upstream".
   */
  const expectHealthCheckUninvolved = async () => {
    expect(await stack.envoy.stat('cluster.modelgate.health_check.attempt')).toBe(1);
    expect(await stack.envoy.stat('cluster.modelgate.health_check.failure')).toBe(0);
    expect(await stack.envoy.stat('cluster.modelgate.membership_healthy')).toBe(1);
  };

  it('paused with SIGSTOP: each check waits out the 0.25 s timeout, then 503 UAEX; resumed, it allows again with its budget intact', async () => {
    const first = await predict();
    expect(first.status).toBe(200);
    // 3 an hour: one token every 1200 s.
    expect(budget(first)).toEqual({ remaining: 2, reset: 1200 });

    const from = await logLength();
    const errorsBefore = await stack.envoy.stat('http.edge.ext_authz.modelgate.error');
    const upstreamBefore = stack.upstream.received.length;
    const paused: Timed[] = [];
    serve!.proc.kill('SIGSTOP');
    try {
      for (let i = 0; i < 3; i++) paused.push(await predict());
    } finally {
      serve!.proc.kill('SIGCONT');
    }
    for (const r of paused) {
      expectEnvoyError(r);
      expect(r.ms).toBeGreaterThanOrEqual(200);
      expect(r.ms).toBeLessThan(2000);
    }
    expect(stack.upstream.received.length).toBe(upstreamBefore);
    expect(await stack.envoy.stat('http.edge.ext_authz.modelgate.error')).toBe(errorsBefore + 3);
    expect(await stack.envoy.stat('http.edge.ext_authz.modelgate.denied')).toBe(0);
    await expectHealthCheckUninvolved();

    const lines = await logLines(from, 3);
    for (const line of lines) {
      expect(line).toMatchObject({ response_code: 503, response_flags: 'UAEX', response_code_details: 'ext_authz_error', ext_authz: null });
      expect(line.duration_ms).toBeGreaterThanOrEqual(200);
      expect(line.duration_ms).toBeLessThan(2000);
    }

    // Envoy reset the three checks at its timeout; modelgate, resumed, finds request and reset in
    // one read and skips them: no decision, no token taken, one warning each naming the request.
    const next = await predict();
    expect(next.status).toBe(200);
    expect(budget(next).remaining).toBe(1);
    expect(budget(next).reset).toBeGreaterThan(2300);
    expect(budget(next).reset).toBeLessThanOrEqual(2400);
    const abandonedIds = serve!.lines.filter((l) => l.msg === ABANDONED).map((l) => l.request_id);
    expect(abandonedIds.sort()).toEqual(lines.map((l) => l.request_id).sort());
    // The decision line is written after the answer: wait for the second one.
    const decided = await until(() => serve!.lines.filter((l) => l.msg === 'decision'), (d) => d.length >= 2);
    expect(decided.map((l) => l.decision)).toEqual(['allow', 'allow']);
    for (const id of abandonedIds) expect(decided.map((l) => l.request_id)).not.toContain(id);
  });

  it('stopped (SIGTERM, exited): 503 UAEX at once, the connection to modelgate refused', async () => {
    const proc = serve!.proc;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);

    const from = await logLength();
    const connectFailsBefore = await stack.envoy.stat('cluster.modelgate.upstream_cx_connect_fail');
    const upstreamBefore = stack.upstream.received.length;
    const down = [await predict(), await predict()];
    for (const r of down) {
      expectEnvoyError(r);
      expect(r.ms).toBeLessThan(2000);
    }
    expect(stack.upstream.received.length).toBe(upstreamBefore);
    expect(await stack.envoy.stat('cluster.modelgate.upstream_cx_connect_fail')).toBeGreaterThan(connectFailsBefore);
    await expectHealthCheckUninvolved();
    for (const line of await logLines(from, 2)) {
      expect(line).toMatchObject({ response_code: 503, response_flags: 'UAEX', response_code_details: 'ext_authz_error', ext_authz: null });
    }
  });
});
