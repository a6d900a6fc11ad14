// Fault: Redis SIGKILLed under load (a crash: the connection drops with calls in flight), kept
// down for 1 s, then restarted empty on the same port (test/helpers/redis.ts kill() / restart()).
//
// Load (redis-gate.ts `loadThroughOutage`): one `modelgate serve` process on one Redis; 8 checks in
// flight over 2 HTTP/2 connections, closed loop, round-robin over 4 subjects under a fail_open
// bucket and 4 under a fail_closed one (buckets far larger than the load), ~1 s before the kill
// and 1.5 s after the restart. What every check got:
// - one CheckResponse each: none lost, no gRPC error; the process lives;
// - Redis's answer or its own bucket's on_redis_error, nothing else;
// - before the kill, Redis's answer (no false 503 under load);
// - sent while Redis was dead: its fail mode (fail_open: allowed by the local fallback;
//   fail_closed: 503 `limiter_unavailable`), at once: under 20 ms by modelgate's own decision log
//   (`latency_us`), as the circuit is open and nothing waits on Redis;
// - answered within Envoy's default 200 ms ext_authz budget by that log, the checks in flight at
//   the kill included; client-side times (this test's own event loop added) are printed;
// - once Redis is back, Redis's answer again within a second, and for every check sent after that.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { describeOutage, expectOutageAnswered, loadThroughOutage, startLimitedGate, type LimitedGate } from '../../helpers/faults/redis-gate.js';
import { procs } from '../../helpers/faults/procs.js';

const FAIL_FAST_MS = 20;
const run = procs();
let redis: RedisServer;
let gate: LimitedGate | undefined;

beforeAll(async () => {
  redis = await startRedis();
  gate = await startLimitedGate(redis.url, run);
}, 30_000);
afterAll(async () => {
  gate?.close();
  await run.killAll();
  await redis?.stop();
});

describe('fault: Redis killed (SIGKILL) and restarted under load', () => {
  it('answers every check with its fail mode at once while Redis is dead, and Redis again within a second of its restart', async () => {
    const { serve } = gate!;
    const out = await loadThroughOutage(gate!, { down: () => redis.kill(), up: () => redis.restart(), downMs: 1_000 });
    console.info(`redis killed: ${describeOutage(out, serve)}`);
    expectOutageAnswered(out, { back: 'the restart', failFastMs: FAIL_FAST_MS });
    expect(serve.proc.exitCode).toBeNull();
  }, 30_000);
});
