// Fault: Redis frozen with SIGSTOP for 1.5 s under load, then resumed with SIGCONT. Its socket
// stays open, so modelgate learns of the outage only from Redis's silence.
//
// Load (redis-gate.ts `loadThroughOutage`): one `modelgate serve` process on one Redis; 8 checks in
// flight over 2 HTTP/2 connections, closed loop, round-robin over 4 subjects under a fail_open
// bucket and 4 under a fail_closed one (buckets far larger than the load), ~1 s before the freeze
// and 1.5 s after SIGCONT. What every check got:
// - one CheckResponse each: none lost, no gRPC error; the process lives;
// - Redis's answer or its own bucket's on_redis_error, nothing else;
// - before the freeze, Redis's answer (no false 503 under load);
// - sent while Redis was frozen: its fail mode (fail_open: allowed by the local fallback;
//   fail_closed: 503 `limiter_unavailable`);
// - answered within Envoy's default 200 ms ext_authz budget by modelgate's own decision log
//   (`latency_us`), the checks waiting on Redis when it froze included; client-side times (this
//   test's own event loop added) are printed;
// - after SIGCONT, Redis's answer again within a second, and for every check sent after that.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { describeOutage, expectOutageAnswered, loadThroughOutage, startLimitedGate, type LimitedGate } from '../../helpers/faults/redis-gate.js';
import { alive, procs } from '../../helpers/faults/procs.js';

const run = procs();
let redis: RedisServer;
let gate: LimitedGate | undefined;

beforeAll(async () => {
  redis = await startRedis();
  gate = await startLimitedGate(redis.url, run);
}, 30_000);
afterAll(async () => {
  if (redis?.pid !== undefined && alive(redis.pid)) process.kill(redis.pid, 'SIGCONT');
  gate?.close();
  await run.killAll();
  await redis?.stop();
});

describe('fault: Redis paused (SIGSTOP) and resumed under load', () => {
  it('answers every check with its fail mode within the budget while Redis is frozen, and Redis again within a second of SIGCONT', async () => {
    const { serve } = gate!;
    const out = await loadThroughOutage(gate!, {
      down: () => void process.kill(redis.pid!, 'SIGSTOP'),
      up: () => void process.kill(redis.pid!, 'SIGCONT'),
      downMs: 1_500,
    });
    console.info(`redis paused: ${describeOutage(out, serve)}`);
    expectOutageAnswered(out, { back: 'SIGCONT' });
    expect(serve.proc.exitCode).toBeNull();
  }, 30_000);
});
