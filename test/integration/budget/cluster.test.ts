// Budgets on a real 3-master Redis Cluster: every key of one check shares the budget root's hash
// tag (the org), so buckets, subject, team and org lines are decided atomically in one slot; the
// operator commands still find a subject's buckets and a team's or org's lines.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis, Cluster } from 'ioredis';
import { inspectSubject, resetSubject } from '../../../src/ratelimit/inspect.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../../helpers/redis.js';
import { runCli } from '../../helpers/run-cli.js';
import { chat, ledgerFor, reservationOf, T0 } from '../../helpers/budget/ledgers.js';

const BUDGETS = {
  reservation_ttl_ms: 60_000,
  budgets: [
    { id: 'sub', level: 'subject', unit: 'tokens', limit: 2_000, period: 'day' },
    { id: 'team', level: 'team', unit: 'tokens', limit: 3_000, period: 'day' },
    { id: 'org', level: 'org', unit: 'tokens', limit: 1_500, period: 'month' },
  ],
};
const LIMITS = { buckets: [{ id: 'rpm', rate: 0, burst: 100 }] };

/** Every key on every master, for asserting names and slots. */
async function allKeys(cluster: Cluster): Promise<string[]> {
  const keys: string[] = [];
  for (const node of cluster.nodes('master')) keys.push(...(await node.keys('*')));
  return keys.sort();
}

describe('redis cluster (3 masters)', () => {
  let cluster: RedisCluster;
  let admin: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    admin = new Cluster(cluster.urls.slice(0, 1).map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) })));
  }, 60_000);
  afterAll(async () => {
    admin?.disconnect();
    await cluster?.stop();
  });

  it('decides buckets and every level in one slot, all or none, and settles there', async () => {
    const ledger = await ledgerFor('cluster', cluster.url, BUDGETS, LIMITS);
    try {
      const orgs = ['acme', 'globex', 'initech'];
      for (const org of orgs) {
        // 7 × 203 = 1421 ≤ 1500 for the org; the 8th is refused and charges no bucket token.
        const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => ledger.limiter.take(chat({ subject: `api_key:${org}-${i}`, team: 'ml', org }))));
        expect(outcomes.filter((o) => o.allowed)).toHaveLength(7);
        expect(outcomes.filter((o) => !o.allowed && o.reason === 'budget_exhausted' && o.limitId === 'org')).toHaveLength(3);
        const id = reservationOf(outcomes.find((o) => o.allowed)!);
        expect(await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 }, failed: false, now: T0 + 1 })).toMatchObject({ outcome: 'settled' });
        expect((await ledger.limiter.take(chat({ subject: `api_key:${org}-x`, team: 'ml', org, now: T0 + 2 }))).allowed).toBe(true);
      }
      const keys = await allKeys(admin);
      // One slot per org: every key of a check carries the org's tag, buckets included.
      const tags = new Set(keys.map((k) => /\{([^}]*)\}/.exec(k)?.[1]));
      expect([...tags].sort()).toEqual(['org:acme', 'org:globex', 'org:initech']);
      expect(keys).toContain('modelgate:rl:{org:acme}:s:api_key%3Aacme-0:b:rpm');
      expect(keys.some((k) => k.startsWith('modelgate:rl:{org:acme}:bg:team:t:ml:u:'))).toBe(true);
    } finally {
      await ledger.close();
    }
  });

  it("limits show|reset find a subject's buckets under the org tag; budgets show|reset read and clear lines", async () => {
    const ledger = await ledgerFor('cluster', cluster.url, BUDGETS, LIMITS);
    const now = Date.now();
    try {
      const id = reservationOf(await ledger.limiter.take(chat({ subject: 'api_key:ops', team: 'sre', org: 'umbrella', now })));
      const shown = await inspectSubject(admin, 'modelgate:rl:', 'api_key:ops');
      expect(shown.buckets.map((b) => [b.bucketId, b.tokens])).toEqual([['rpm', 99]]);
      expect(await ledger.settler.settle({ reservationId: id, usage: { inputTokens: 40, outputTokens: 2, cachedInputTokens: 0 }, failed: false, now: now + 1 })).toMatchObject({ outcome: 'settled' });
      const open = await ledger.limiter.take(chat({ subject: 'api_key:ops', team: 'sre', org: 'umbrella', now: now + 2 }));
      expect(open.allowed).toBe(true);

      const dir = mkdtempSync(join(tmpdir(), 'budgets-cli-'));
      const file = join(dir, 'modelgate.yaml');
      writeFileSync(file, `${CONFIG}\nlimits:\n  redis:\n    url: ${cluster.url}\n  buckets:\n    - { id: rpm, rate: 0, burst: 100 }\nbudgets:\n  reservation_ttl_ms: 60000\n  budgets:\n    - { id: sub, level: subject, unit: tokens, limit: 2000, period: day }\n    - { id: team, level: team, unit: tokens, limit: 3000, period: day }\n    - { id: org, level: org, unit: tokens, limit: 1500, period: month }\n`);
      const team = await runCli(['budgets', 'show', '--team', 'sre', '--config', file, '--json']);
      expect(team.stderr).toBe('');
      expect(JSON.parse(team.stdout).budgets).toEqual([expect.objectContaining({ budgetId: 'team', used: 42, reserved: 203, remaining: 3_000 - 42 - 203, limit: 3_000, unit: 'tokens' })]);
      const text = await runCli(['budgets', 'show', '--org', 'umbrella', '--config', file]);
      expect(text.stdout).toMatch(/^org umbrella\n {2}org: used 42, reserved 203, remaining 1255 of 1500 tokens, resets \d{4}-\d\d-01T00:00:00\.000Z\n$/);
      const reset = await runCli(['budgets', 'reset', '--team', 'sre', '--config', file]);
      expect(reset.stdout).toBe('reset team sre: 3 keys removed\n');
      const after = await runCli(['budgets', 'show', '--team', 'sre', '--config', file, '--json']);
      expect(JSON.parse(after.stdout).budgets[0]).toMatchObject({ used: 0, reserved: 0, remaining: 3_000 });

      expect(await resetSubject(admin, 'modelgate:rl:', 'api_key:ops')).toBe(1);
      expect((await inspectSubject(admin, 'modelgate:rl:', 'api_key:ops')).buckets).toEqual([]);
    } finally {
      await ledger.close();
    }
  });
});

describe('key names without team or org budgets', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it("keep today's `{subject}` tag for buckets when only subject budgets apply", async () => {
    const ledger = await ledgerFor('redis', redis.url, { budgets: [{ id: 'sub', level: 'subject', unit: 'tokens', limit: 2_000, period: 'day' }] }, LIMITS);
    const client = new Redis(redis.url);
    try {
      await ledger.limiter.take(chat({ org: 'acme' }));
      const keys = (await client.keys('*')).sort();
      expect(keys).toContain('modelgate:rl:{api_key%3Aalice}:b:rpm');
      expect(keys.every((k) => k.startsWith('modelgate:rl:{api_key%3Aalice}:'))).toBe(true);
    } finally {
      client.disconnect();
      await ledger.close();
    }
  });
});

const CONFIG = `policy:\n  roles: {}\n  rules: []`;
