// Budget admission on real Redis and on the memory ledger, the same scenarios on both: all or none
// across levels and buckets, exactly the requests that fit, settlement, overruns, failures,
// idempotency, expiry and leases. A scenario table must give identical outcomes on both.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_GRACE_MS, SETTLED_KEEP_MS } from '../../../src/budget/admission.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import type { BudgetEvents } from '../../../src/budget/events.js';
import { chat, comparable, ledgerFor, reservationOf, T0, type TestLedger } from '../../helpers/budget/ledgers.js';

// An estimate of 396 bytes / 4 + 4 per message = 103 input tokens; max_tokens 100 → 203 tokens.
const ESTIMATE = 203;

const BUDGETS = {
  prices: [{ models: ['gpt-4o*'], input: 2_500_000, output: 10_000_000, max_output_tokens: 16_384 }],
  budgets: [
    { id: 'alice-day', level: 'subject', unit: 'tokens', limit: 1_000, period: 'day' },
    { id: 'team-day', level: 'team', unit: 'tokens', limit: 10_000, period: 'day' },
    { id: 'org-money', level: 'org', unit: 'money', limit: 1_000_000, period: 'month' },
  ],
};

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

let db = 0;
/** A fresh Redis database per ledger, so scenarios never see each other's keys. */
const fresh = (budgets: Record<string, unknown>, limits: Record<string, unknown> = {}, events?: BudgetEvents) => [
  () => ledgerFor('memory', undefined, budgets, limits, events),
  () => ledgerFor('redis', `${redis.url}/${++db}`, budgets, limits, events),
] as const;

describe.each(['memory', 'redis'])('%s ledger', (kind) => {
  const open = async (budgets: Record<string, unknown>, limits: Record<string, unknown> = {}, events?: BudgetEvents): Promise<TestLedger> => {
    const [memory, real] = fresh(budgets, limits, events);
    return kind === 'memory' ? memory() : real();
  };

  it('admits while used + reserved + estimate fits, then refuses with remaining and reset', async () => {
    const ledger = await open(BUDGETS);
    try {
      const outcomes = [];
      for (let i = 0; i < 5; i++) outcomes.push(await ledger.limiter.take(chat({ team: 'ml', org: 'acme' })));
      // 4 × 203 = 812 ≤ 1000; a fifth would make 1015.
      expect(outcomes.map((o) => o.allowed)).toEqual([true, true, true, true, false]);
      const denied = outcomes[4]!;
      expect(denied).toMatchObject({ allowed: false, reason: 'budget_exhausted', limitId: 'alice-day' });
      const resetSeconds = Date.UTC(2026, 10, 29) / 1000;
      expect(!denied.allowed && denied.bodyExtra).toEqual({ budget_id: 'alice-day', unit: 'tokens', remaining: 188, reset: resetSeconds, reset_at: '2026-11-29T00:00:00.000Z' });
      expect(denied.responseHeaders).toEqual([['x-modelgate-budget-remaining', '188'], ['x-modelgate-budget-reset', String(resetSeconds)]]);
      const allowed = outcomes[0]!;
      expect(allowed.metadata).toMatchObject({ budget_estimate_tokens: ESTIMATE, budget_estimate_micro_units: 1258, budget_id: 'alice-day', budget_remaining: 797 });
      expect(reservationOf(allowed)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    } finally {
      await ledger.close();
    }
  });

  it('is all or none across levels: a full team refuses alice without charging her own budget', async () => {
    const ledger = await open({ budgets: [
      { id: 'alice-day', level: 'subject', unit: 'tokens', limit: 10_000, period: 'day' },
      { id: 'team-day', level: 'team', unit: 'tokens', limit: 500, period: 'day' },
    ] });
    try {
      expect((await ledger.limiter.take(chat({ subject: 'api_key:bob', team: 'ml' }))).allowed).toBe(true);
      expect((await ledger.limiter.take(chat({ subject: 'api_key:bob', team: 'ml' }))).allowed).toBe(true);
      const refused = await ledger.limiter.take(chat({ team: 'ml' }));
      expect(refused).toMatchObject({ allowed: false, reason: 'budget_exhausted', limitId: 'team-day' });
      // Alice's own line reserved nothing: without a team she gets her full 10,000.
      const elsewhere = await ledger.limiter.take(chat());
      expect(elsewhere.metadata).toMatchObject({ budget_id: 'alice-day', budget_remaining: 10_000 - ESTIMATE });
    } finally {
      await ledger.close();
    }
  });

  it('a budget refusal consumes no bucket token and counts no violation; a bucket denial keeps its semantics', async () => {
    const ledger = await open(
      { budgets: [{ id: 'tiny', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }] },
      { block: { after_violations: 1 }, buckets: [{ id: 'rpm', rate: 0, burst: 2 }] },
    );
    try {
      expect((await ledger.limiter.take(chat())).allowed).toBe(true);
      // Refused by the budget 3 times: with after_violations 1, a counted violation would block.
      for (let i = 0; i < 3; i++) expect(await ledger.limiter.take(chat())).toMatchObject({ allowed: false, reason: 'budget_exhausted' });
      // The bucket still holds its second token: a request that fits the budget passes.
      const small = await ledger.limiter.take(chat({ subject: 'api_key:alice', maxTokens: 1, prompt: 'hi' }));
      expect(small).toMatchObject({ allowed: true, metadata: { ratelimit_bucket: 'rpm', ratelimit_remaining: 0 } });
      // Now the bucket is empty: rate_limited, and with after_violations 1 the next is blocked.
      expect(await ledger.limiter.take(chat({ maxTokens: 1, prompt: 'hi' }))).toMatchObject({ allowed: false, reason: 'temporarily_blocked' });
    } finally {
      await ledger.close();
    }
  });

  it('N concurrent admissions against a budget that fits k admit exactly k', async () => {
    const ledger = await open({ budgets: [{ id: 'org', level: 'org', unit: 'tokens', limit: ESTIMATE * 7, period: 'hour' }] });
    try {
      const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.limiter.take(chat({ subject: `api_key:u${i}`, org: 'acme' }))));
      expect(outcomes.filter((o) => o.allowed)).toHaveLength(7);
      expect(outcomes.filter((o) => !o.allowed && o.reason === 'budget_exhausted')).toHaveLength(23);
    } finally {
      await ledger.close();
    }
  });

  it('settle charges the actual usage and frees the unused part; twice is once', async () => {
    const ledger = await open(BUDGETS);
    try {
      const first = await ledger.limiter.take(chat({ team: 'ml', org: 'acme' }));
      const id = reservationOf(first);
      const settled = await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 50, outputTokens: 10, cachedInputTokens: 0 }, failed: false, now: T0 + 1_000 });
      // 50 × 2.5 + 10 × 10 = 225 micro-units (prices are per million tokens).
      expect(settled).toEqual({ outcome: 'settled', charged: { inputTokens: 50, outputTokens: 10, microUnits: 225 } });
      expect(await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 50, outputTokens: 10, cachedInputTokens: 0 }, failed: false, now: T0 + 2_000 })).toEqual({ outcome: 'already_settled' });
      const next = await ledger.limiter.take(chat({ team: 'ml', org: 'acme', now: T0 + 3_000 }));
      // Used 60 (not 203), nothing else reserved: 1000 - 60 - 203 left.
      expect(next.metadata).toMatchObject({ budget_id: 'alice-day', budget_remaining: 1_000 - 60 - ESTIMATE });
    } finally {
      await ledger.close();
    }
  });

  it('keeps a settled record only SETTLED_KEEP_MS (repeats answer already_settled until then), an unsettled one past its TTL', async () => {
    const ledger = await open(BUDGETS);
    const usage = { inputTokens: 50, outputTokens: 10, cachedInputTokens: 0 };
    try {
      const settledId = reservationOf(await ledger.limiter.take(chat({ team: 'ml', org: 'acme' })));
      const openId = reservationOf(await ledger.limiter.take(chat({ team: 'ml', org: 'acme' })));
      expect((await ledger.settler.settle({ reservationId: settledId, usage, failed: false, now: T0 + 1_000 })).outcome).toBe('settled');
      if (kind === 'memory') {
        const again = (now: number) => ledger.settler.settle({ reservationId: settledId, usage, failed: false, now });
        expect((await again(T0 + 1_000 + SETTLED_KEEP_MS - 1)).outcome).toBe('already_settled');
        expect((await again(T0 + 1_000 + SETTLED_KEEP_MS + 1)).outcome).toBe('unknown');
        // The unsettled one is still known then: a late settlement charges it once.
        expect((await ledger.settler.settle({ reservationId: openId, usage, failed: false, now: T0 + 1_000 + SETTLED_KEEP_MS + 1 })).outcome).toBe('settled');
      } else {
        // Redis keeps its own clock: read the records' remaining lives.
        const client = new Redis(`${redis.url}/${db}`);
        try {
          const ttls: number[] = [];
          for (const key of await client.keys('*:rsv:*')) ttls.push(await client.pttl(key));
          expect(ttls).toHaveLength(2);
          const [short, long] = ttls.sort((x, y) => x - y) as [number, number];
          expect(short).toBeGreaterThan(0);
          expect(short).toBeLessThanOrEqual(SETTLED_KEEP_MS);
          expect(long).toBeGreaterThan(RECORD_GRACE_MS);
        } finally {
          client.disconnect();
        }
      }
    } finally {
      await ledger.close();
    }
  });

  it('an overrun is charged in full and the next request is refused; a failed exchange costs its input', async () => {
    const ledger = await open(BUDGETS);
    try {
      const id = reservationOf(await ledger.limiter.take(chat()));
      expect(await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 104, outputTokens: 800, cachedInputTokens: 0 }, failed: false, now: T0 + 1 })).toMatchObject({ outcome: 'settled' });
      expect(await ledger.limiter.take(chat({ now: T0 + 2 }))).toMatchObject({ allowed: false, reason: 'budget_exhausted', bodyExtra: { remaining: 96 } });
      const small = reservationOf(await ledger.limiter.take(chat({ now: T0 + 3, prompt: 'hi', maxTokens: 10 })));
      expect(await ledger.settler.settle({ reservationId: small, usage: undefined, failed: true, now: T0 + 4 })).toEqual({
        outcome: 'settled',
        charged: { inputTokens: 5, outputTokens: 0, microUnits: 13 },
      });
      expect(await ledger.limiter.take(chat({ now: T0 + 5, prompt: 'hi', maxTokens: 10 }))).toMatchObject({ allowed: true, metadata: { budget_remaining: 96 - 5 - 15 } });
    } finally {
      await ledger.close();
    }
  });

  it('a reservation past its TTL frees capacity, is counted as expired, and a late settlement still charges once', async () => {
    let expired = 0;
    const ledger = await open({ reservation_ttl_ms: 5_000, budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }] }, {}, { expired: (n) => (expired += n) });
    try {
      const id = reservationOf(await ledger.limiter.take(chat()));
      expect(await ledger.limiter.take(chat({ now: T0 + 4_999 }))).toMatchObject({ allowed: false, reason: 'budget_exhausted' });
      const after = await ledger.limiter.take(chat({ now: T0 + 5_000, prompt: 'hi', maxTokens: 1 }));
      expect(after).toMatchObject({ allowed: true, metadata: { budget_remaining: 300 - 6 } });
      expect(expired).toBe(1);
      expect(await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 100, outputTokens: 100, cachedInputTokens: 0 }, failed: false, now: T0 + 6_000 })).toMatchObject({ outcome: 'settled' });
      // Charged 200 once; the expired reservation was not subtracted a second time (reserved stays 6).
      expect(await ledger.limiter.take(chat({ now: T0 + 6_001, prompt: 'hi', maxTokens: 1 }))).toMatchObject({ allowed: true, metadata: { budget_remaining: 300 - 200 - 12 } });
    } finally {
      await ledger.close();
    }
  });

  it('keeps amounts past 1e14 exact (Lua would print them with an exponent)', async () => {
    const ledger = await open({ prices: [{ models: ['*'], input: 0, output: 0, max_output_tokens: 1e15 }], budgets: [{ id: 'big', level: 'subject', unit: 'tokens', limit: 1e15, period: 'day' }] });
    try {
      const first = await ledger.limiter.take(chat({ maxTokens: 2e14 }));
      expect(first.metadata).toMatchObject({ budget_remaining: 1e15 - 2e14 - 103 });
      const id = reservationOf(first);
      expect(await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 103, outputTokens: 3e14 + 1, cachedInputTokens: 0 }, failed: false, now: T0 + 1 })).toMatchObject({ outcome: 'settled' });
      const next = await ledger.limiter.take(chat({ now: T0 + 2, maxTokens: 1 }));
      expect(next.metadata).toMatchObject({ budget_remaining: 1e15 - (3e14 + 104) - 104 });
    } finally {
      await ledger.close();
    }
  });

  it('per-route reservation_ttl_ms overrides the TTL', async () => {
    const ledger = await open({ budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }] });
    try {
      await ledger.limiter.take(chat({ ttlMs: 1_000 }));
      expect((await ledger.limiter.take(chat({ now: T0 + 1_000 }))).allowed).toBe(true);
    } finally {
      await ledger.close();
    }
  });

  it('leases: at most max_in_flight, freed by settlement, release, or their expiry', async () => {
    const ledger = await open({ reservation_ttl_ms: 10_000, concurrency: [{ id: 'two', per: 'subject', max_in_flight: 2 }] });
    try {
      const a = reservationOf(await ledger.limiter.take(chat({ body: undefined })));
      const b = reservationOf(await ledger.limiter.take(chat({ now: T0 + 1_000 })));
      const third = await ledger.limiter.take(chat({ now: T0 + 2_000 }));
      expect(third).toMatchObject({ allowed: false, reason: 'concurrency_limited', retryAfterSeconds: 8, responseHeaders: [['retry-after', '8']] });
      expect(await ledger.settler.release(a, T0 + 2_001)).toBe('settled');
      const c = reservationOf(await ledger.limiter.take(chat({ now: T0 + 2_002 })));
      expect((await ledger.limiter.take(chat({ now: T0 + 2_003 }))).allowed).toBe(false);
      expect(await ledger.settler.settle({ reservationId: b, usage: undefined, failed: false, now: T0 + 2_004 })).toMatchObject({ outcome: 'settled' });
      expect((await ledger.limiter.take(chat({ now: T0 + 2_005 }))).allowed).toBe(true);
      // c and the last one hold both leases until c expires at T0 + 12,002.
      expect((await ledger.limiter.take(chat({ now: T0 + 12_001 }))).allowed).toBe(false);
      expect((await ledger.limiter.take(chat({ now: T0 + 12_002 }))).allowed).toBe(true);
      void c;
    } finally {
      await ledger.close();
    }
  });

  it('refuses without a usable body when an enforced budget applies; shadow budgets never refuse', async () => {
    const ledger = await open({ budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }, { id: 's', level: 'team', unit: 'tokens', limit: 1, period: 'day', shadow: true }] });
    try {
      expect(await ledger.limiter.take(chat({ body: null }))).toMatchObject({ allowed: false, reason: 'body_required' });
      expect(await ledger.limiter.take(chat({ body: { messages: [], max_tokens: 'many' } }))).toMatchObject({ allowed: false, reason: 'request_invalid' });
      const shadow = await ledger.limiter.take(chat({ team: 'ml', prompt: 'hi', maxTokens: 1 }));
      expect(shadow).toMatchObject({ allowed: true, shadowDenied: ['s'] });
    } finally {
      await ledger.close();
    }
  });
});

describe('memory and Redis give identical outcomes on one scenario table', () => {
  type Step = { at: number; who?: string; org?: string; team?: string; tokens?: number; settle?: number; usage?: [number, number]; failed?: boolean; release?: number };
  const steps: Step[] = [
    { at: 0, who: 'a', org: 'o', team: 't' },
    { at: 10, who: 'b', org: 'o', team: 't', tokens: 900 },
    { at: 20, who: 'a', org: 'o', team: 't', tokens: 2_000 },
    { at: 30, who: 'c', org: 'o' },
    { at: 31, who: 'c', org: 'o', tokens: 1 },
    { at: 32, who: 'c', org: 'o', tokens: 1 },
    { at: 40, settle: 0, usage: [20, 3_000] },
    { at: 50, who: 'a', org: 'o', team: 't' },
    { at: 60, settle: 1, failed: true },
    { at: 70, release: 3 },
    { at: 80, who: 'd', org: 'o', team: 'u', tokens: 500 },
    { at: 14_000, who: 'a', org: 'o', team: 't' },
    { at: 16_000, who: 'a', org: 'o', team: 't', tokens: 4_000 },
    { at: 16_010, settle: 1, usage: [1, 1] },
    { at: 3_600_000, who: 'b', org: 'o', team: 't', tokens: 4_000 },
    { at: 90_000_000, who: 'a', org: 'o', team: 't', tokens: 4_000 },
  ];
  const config = {
    prices: [{ models: ['*'], input: 1_000_000, output: 3_000_000 }],
    budgets: [
      { id: 'sub', level: 'subject', unit: 'tokens', limit: 5_000, rolling: '1h', slices: 12 },
      { id: 'team', level: 'team', unit: 'output_tokens', limit: 6_000, period: 'day' },
      { id: 'org', level: 'org', unit: 'money', limit: 30_000, period: 'week' },
    ],
    concurrency: [{ id: 'cc', per: 'subject', max_in_flight: 2 }],
  };

  it('runs every step on both ledgers and compares', async () => {
    const [memory, real] = fresh(config);
    const results: unknown[][] = [];
    for (const ledger of [await memory(), await real()]) {
      const out: unknown[] = [];
      const ids: string[] = [];
      try {
        for (const s of steps) {
          const now = T0 + s.at;
          if (s.settle !== undefined) out.push(await ledger.settler.settle({ reservationId: ids[s.settle]!, usage: s.usage && { inputTokens: s.usage[0], outputTokens: s.usage[1], cachedInputTokens: 0 }, failed: s.failed ?? false, now }));
          else if (s.release !== undefined) out.push(await ledger.settler.release(ids[s.release]!, now));
          else {
            const o = await ledger.limiter.take(chat({ subject: `api_key:${s.who ?? ''}`, org: s.org, team: s.team, maxTokens: s.tokens ?? 100, now }));
            ids.push(o.allowed ? reservationOf(o) : '');
            out.push(comparable(o));
          }
        }
      } finally {
        await ledger.close();
      }
      results.push(out);
    }
    expect(results[1]).toEqual(results[0]);
    // The table is not trivial: it has admissions, each kind of refusal and settlements.
    const flat = JSON.stringify(results[0]);
    for (const word of ['budget_exhausted', 'concurrency_limited', '"allowed":true', 'settled']) expect(flat).toContain(word);
  });
});
