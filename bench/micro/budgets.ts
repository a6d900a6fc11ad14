// What budgets cost per check: the Redis script's own CPU time per call (INFO commandstats,
// usec_per_call of EVALSHA) and the client-side throughput, for today's 3-bucket check against the
// same check with budgets at three levels and a lease, then settlement; plus the in-process cost
// of planning (estimate, keys, reservation record). Rounds alternate the cases so noise moves all.
//
//   npm run bench:budgets [-- rounds=3 checks=4000]

import { Redis } from 'ioredis';
import { budgetsSchema } from '../../src/budget/config.js';
import { limitsSchema } from '../../src/ratelimit/config.js';
import { compileLimits } from '../../src/ratelimit/compile.js';
import { RedisLimiter } from '../../src/ratelimit/redis-limiter.js';
import type { LimitRequest } from '../../src/ratelimit/limiter.js';
import { startRedis } from '../redis.js';

const rounds = Number(process.argv[2] ?? 3);
const checks = Number(process.argv[3] ?? 4_000);
const IN_FLIGHT = 64;

function fail(message: string): never {
  throw new Error(`budgets bench: wrong result: ${message}`);
}

const BUCKETS = [
  { id: 'rps', rate: 1e9, burst: 1e9 },
  { id: 'rpm', rate: 1e9, per: 'minute', burst: 1e9 },
  { id: 'model', rate: 1e9, burst: 1e9, per_model: true },
];
const BUDGETS = budgetsSchema.parse({
  prices: [{ models: ['gpt-4o*'], input: 2_500_000, output: 10_000_000, max_output_tokens: 16_384 }],
  budgets: [
    { id: 'sub', level: 'subject', unit: 'tokens', limit: 1e15, period: 'day' },
    { id: 'team', level: 'team', unit: 'tokens', limit: 1e15, rolling: '24h' },
    { id: 'org', level: 'org', unit: 'money', limit: 1e15, period: 'month' },
  ],
  concurrency: [{ id: 'cc', per: 'subject', max_in_flight: 1_000_000 }],
});

const body = { model: 'gpt-4o', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Summarize: '.concat('lorem ipsum '.repeat(150)) }], max_tokens: 256 };
const request = (i: number): LimitRequest => ({
  identity: { subject: `api_key:user-${i % 50}`, method: 'api_key', roles: [], attributes: { team: `t${i % 5}`, org: 'acme' } },
  model: 'gpt-4o',
  action: 'chat',
  requestId: String(i),
  body: () => body,
  now: Date.now(),
});

/** Redis CPU per EVALSHA call (µs) from INFO commandstats, since the last CONFIG RESETSTAT. */
async function usecPerCall(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(info);
  return m === null ? NaN : Number(m[3]);
}

async function drive(n: number, one: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < n) await one(next++);
  }));
  return (n / (performance.now() - started)) * 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const redis = await startRedis();
const admin = new Redis(redis.url);
const limits = limitsSchema.parse({ redis: { url: redis.url, timeout_ms: 1_000 }, buckets: BUCKETS });
const plain = new RedisLimiter(compileLimits(limits));
const withBudgets = new RedisLimiter(compileLimits(limits, BUDGETS));
const budgetsOnly = new RedisLimiter(compileLimits({ ...limits, buckets: [] }, BUDGETS));
try {
  for (const l of [plain, withBudgets, budgetsOnly]) while (!(await l.ready())) await new Promise((r) => setTimeout(r, 20));
  const rows: Record<string, { usec: number[]; perSec: number[] }> = {};
  const record = (name: string, usec: number, perSec: number) => {
    rows[name] ??= { usec: [], perSec: [] };
    rows[name].usec.push(usec);
    rows[name].perSec.push(perSec);
  };
  for (let r = 0; r < rounds; r++) {
    await admin.flushall();
    await admin.config('RESETSTAT');
    const a = await drive(checks, async (i) => {
      if (!(await plain.take(request(i))).allowed) fail('3 buckets');
    });
    record('check: 3 buckets (no budgets: unchanged script)', await usecPerCall(admin), a);

    await admin.config('RESETSTAT');
    const ids: string[] = [];
    const b = await drive(checks, async (i) => {
      const o = await withBudgets.take(request(i));
      if (!o.allowed || typeof o.metadata.reservation_id !== 'string') fail('buckets + budgets');
      ids.push(o.metadata.reservation_id);
    });
    record('check: 3 buckets + 3 budget levels + 1 lease', await usecPerCall(admin), b);

    await admin.config('RESETSTAT');
    const settler = withBudgets.settler!;
    const s = await drive(ids.length, async (i) => {
      const out = await settler.settle({ reservationId: ids[i]!, usage: { inputTokens: 400, outputTokens: 200, cachedInputTokens: 0 }, failed: false, now: Date.now() });
      if (out.outcome !== 'settled') fail(`settle: ${out.outcome}`);
    });
    record('settle: 3 lines + lease (HGET + script)', await usecPerCall(admin), s);

    await admin.config('RESETSTAT');
    const c = await drive(checks, async (i) => {
      if (!(await budgetsOnly.take(request(i))).allowed) fail('budgets only');
    });
    record('check: 3 budget levels + 1 lease, no buckets', await usecPerCall(admin), c);
  }

  // In-process planning: estimate + keys + record per check, against today's bucket planning.
  const compiledPlain = compileLimits(limits);
  const compiledBudgets = compileLimits(limits, BUDGETS);
  const planNs = (compiled: ReturnType<typeof compileLimits>): number => {
    const n = 50_000;
    let sink = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += compiled.plan(request(i)).charges.length;
    const ns = Number(process.hrtime.bigint() - started) / n;
    if (sink !== n * 3) fail('plan');
    return ns;
  };
  const planRows = { 'plan: 3 buckets': [] as number[], 'plan: 3 buckets + budgets (estimate of a 1.8 KB body, keys, id)': [] as number[] };
  for (let r = 0; r < rounds; r++) {
    planRows['plan: 3 buckets'].push(planNs(compiledPlain));
    planRows['plan: 3 buckets + budgets (estimate of a 1.8 KB body, keys, id)'].push(planNs(compiledBudgets));
  }

  console.log(`budgets bench: ${rounds} rounds × ${checks} checks, ${IN_FLIGHT} in flight, one Node process, redis-server on loopback (medians)`);
  console.log('| case | Redis CPU per script call | checks/s from one process |');
  console.log('|---|---|---|');
  for (const [name, row] of Object.entries(rows)) console.log(`| ${name} | ${median(row.usec).toFixed(2)} µs | ${Math.round(median(row.perSec))} |`);
  console.log('| in-process planning | ns per check | |');
  for (const [name, ns] of Object.entries(planRows)) console.log(`| ${name} | ${Math.round(median(ns))} ns | |`);
} finally {
  await Promise.all([plain.close(), withBudgets.close(), budgetsOnly.close()]);
  admin.disconnect();
  await redis.stop();
}
