// Durable chain entries also land in a Redis Stream, in order and trimmed with MAXLEN ~, on a single node and a cluster.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { ChainStore } from '../../../src/audit/chain-store.js';
import { createRedisClient, RedisStreamSink } from '../../../src/audit/redis-sink.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../../helpers/redis.js';
import { tempStore, type TempStore } from '../../helpers/audit/fixtures.js';
import { makeRecord } from '../../helpers/audit/traffic.js';

let redis: RedisServer;
let cluster: RedisCluster;
let fx: TempStore;

beforeAll(async () => {
  [redis, cluster, fx] = await Promise.all([startRedis(), startRedisCluster(), tempStore()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop(), fx?.cleanup()]);
});

async function feed(client: Redis | Cluster, dir: string, stream: string, count: number, maxLen: number, errors: Error[] = []) {
  const sink = new RedisStreamSink({ client, stream, maxLen, timeoutMs: 2_000, onError: (e) => errors.push(e) });
  const store = await ChainStore.open({ dir, signingKey: fx.key, batchMaxRecords: 50, batchMaxDelayMs: 1, onDurable: sink.publish });
  for (let i = 0; i < count; i += 25) {
    await store.append(Array.from({ length: 25 }, (_, k) => makeRecord({ time: new Date(Date.UTC(2025, 0, 1, 0, 0, i + k)).toISOString(), request_id: `r-${i + k}` })));
  }
  await store.close();
  await sink.drain();
  return sink;
}

type StreamEntries = [string, string[]][];

function fields(entry: [string, string[]]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < entry[1].length; i += 2) out[entry[1][i]!] = entry[1][i + 1]!;
  return out;
}

describe('Redis Stream sink', () => {
  it('appends every durable entry in chain order on a single node', async () => {
    const client = createRedisClient([redis.url], false);
    try {
      await feed(client, `${fx.root}/single`, 'modelgate:audit', 100, 100_000);
      const entries = (await client.xrange('modelgate:audit', '-', '+')) as StreamEntries;
      expect(entries).toHaveLength(100);
      const parsed = entries.map(fields);
      expect(parsed.map((f) => Number(f.seq))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      parsed.slice(1).forEach((f, i) => expect(f.prev).toBe(parsed[i]!.hash)); // consumers can check the chain
      expect(JSON.parse(parsed[7]!.entry!)).toMatchObject({ type: 'record', seq: 8, record: { request_id: 'r-7' } });
    } finally {
      client.disconnect();
    }
  });

  it('trims with MAXLEN ~ and keeps the newest entries', async () => {
    const client = createRedisClient([redis.url], false);
    try {
      await feed(client, `${fx.root}/trim`, 'audit:trim', 1000, 100);
      const length = await client.xlen('audit:trim');
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(1000);
      const [last] = (await client.xrevrange('audit:trim', '+', '-', 'COUNT', 1)) as StreamEntries;
      expect(fields(last!).seq).toBe('1000');
    } finally {
      client.disconnect();
    }
  });

  it('works against a Redis Cluster (one stream key, one slot)', async () => {
    const client = createRedisClient([cluster.url], false);
    try {
      await feed(client, `${fx.root}/cluster`, '{modelgate}:audit', 75, 10_000);
      const entries = (await client.xrange('{modelgate}:audit', '-', '+')) as StreamEntries;
      expect(entries.map((e) => Number(fields(e).seq))).toEqual(Array.from({ length: 75 }, (_, i) => i + 1));
    } finally {
      client.disconnect();
    }
  });

  it('reports a Redis outage without failing the durable store', async () => {
    const client = createRedisClient([redis.url], false);
    client.on('error', () => undefined);
    await client.ping();
    await redis.kill();
    const errors: Error[] = [];
    try {
      const sink = await feed(client, `${fx.root}/outage`, 'audit:outage', 50, 1000, errors);
      expect(sink.failedBatches).toBeGreaterThan(0);
      expect(errors.length).toBe(sink.failedBatches);
      const { verifyStore } = await import('../../../src/audit/verify.js');
      expect(await verifyStore(`${fx.root}/outage`)).toMatchObject({ ok: true, entries: 50 });
    } finally {
      client.disconnect();
      await redis.restart();
    }
  }, 30_000);
});
