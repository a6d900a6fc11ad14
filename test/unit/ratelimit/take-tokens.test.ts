// The shared case table, run step by step against the in-memory algorithm and the Lua script on a
// real Redis with the same injected clock: same outcomes, same token counts to the last bit. The
// Lua runs both as one script per check and through the batch script (limits.redis.batch).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema } from '../../../src/ratelimit/config.js';
import { compileLimits } from '../../../src/ratelimit/compile.js';
import { MEMORY_FULL, MemoryTokens } from '../../../src/ratelimit/memory-limiter.js';
import { connectRedis, type LimiterClient } from '../../../src/ratelimit/redis-connection.js';
import { runTakeScript, staticScriptArgs } from '../../../src/ratelimit/redis-limiter.js';
import { toOutcome } from '../../../src/ratelimit/report.js';
import { ScriptBatcher } from '../../../src/ratelimit/batch.js';
import type { Redis } from 'ioredis';
import type { LimitRequest } from '../../../src/ratelimit/limiter.js';
import type { TakeResult } from '../../../src/ratelimit/take-tokens.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { CASES, type CaseStep } from '../../helpers/ratelimit/cases.js';

function request(subject: string, step: CaseStep): LimitRequest {
  return {
    identity: { subject, method: 'api_key', roles: [], attributes: {} },
    model: 'm',
    action: 'infer',
    requestId: 'r',
    body: () => (step.cost === undefined ? undefined : { cost: step.cost }),
    now: step.at,
  };
}

let redis: RedisServer;
let client: LimiterClient;

beforeAll(async () => {
  redis = await startRedis();
  client = connectRedis({ url: redis.url, timeoutMs: 2_000, onError: () => undefined });
  await client.ping().catch(async () => new Promise((r) => client.once('ready', r)));
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

describe.each(CASES.map((c, i) => ({ ...c, index: i })))('$name', ({ limits, steps, index }) => {
  it('gives the expected outcome at every step, identically in memory and in Lua', async () => {
    const compiled = compileLimits(limitsSchema.parse(limits));
    const memory = new MemoryTokens(compiled);
    // Long TTL padding: Redis expires keys on its real clock while the test drives a fake one.
    const staticArgs = staticScriptArgs(compiled, 600_000);
    const subject = `case-${index}`;
    const batcher = new ScriptBatcher(client as Redis, { staticArgs });
    for (const [n, step] of steps.entries()) {
      const plan = compiled.plan(request(subject, step));
      // The same step for a twin subject, decided inside the batch script.
      const twin = compiled.plan(request(`${subject}-batched`, step));
      const scale = step.scale ?? 1;
      const taken = memory.take(plan, step.at, scale);
      if (taken === MEMORY_FULL || 'untracked' in taken) throw new Error(`step ${n}: the in-memory store is full`);
      const inMemory: TakeResult = taken;
      const inLua = await runTakeScript(client, plan, { nowMs: step.at, scale, staticArgs });
      expect(inLua, `step ${n}: Lua and memory agree`).toEqual(inMemory);
      expect(await batcher.take(twin, step.at, scale), `step ${n}: batched Lua and memory agree`).toEqual(inMemory);

      const outcome = toOutcome(inMemory, plan.charges, { headers: 'ietf', scale });
      const e = step.expect;
      const where = `step ${n} at +${step.at - steps[0]!.at} ms`;
      expect(outcome.allowed, where).toBe(e.allowed);
      if (!outcome.allowed) {
        expect(outcome.reason, where).toBe(e.reason ?? 'rate_limited');
        if (e.retryAfter !== undefined) expect(outcome.retryAfterSeconds, where).toBe(e.retryAfter ?? undefined);
      }
      if (e.remaining !== undefined) expect(outcome.metadata.ratelimit_remaining, where).toBe(e.remaining);
      if (e.bucket !== undefined) expect(outcome.metadata.ratelimit_bucket, where).toBe(e.bucket);
      if (e.shadowDenied !== undefined) expect(outcome.shadowDenied, where).toEqual(e.shadowDenied);
    }
  });
});
