// Operator views of one subject's limiter state in Redis: list its buckets and block, or clear them.

import type { Cluster, Redis } from 'ioredis';
import { baseOf, parseBucketKey, subjectPattern, subjectUnderRootPattern } from './keys.js';
import { scanKeys } from './scan-keys.js';

export interface BucketSnapshot {
  readonly key: string;
  readonly bucketId: string;
  readonly model?: string;
  /** Tokens as stored at `updatedMs` (before refill since then). */
  readonly tokens: number;
  readonly updatedMs: number;
  /** Milliseconds until Redis forgets the key (it is full again by then). */
  readonly ttlMs: number;
}

export interface SubjectSnapshot {
  readonly buckets: BucketSnapshot[];
  readonly blockedUntilMs?: number;
  readonly strikes?: number;
  readonly violations?: number;
  /** Redis TIME in epoch ms, to compare with `blockedUntilMs` and `updatedMs`. */
  readonly redisNowMs: number;
}

/**
 * A subject's keys live under its own tag `{subject}`, or under a budget root's tag
 * (`{org:…}:s:<subject>:…`, docs/budgets.md) when team or org budgets apply: scan the masters for both.
 */
function subjectKeys(client: Redis | Cluster, prefix: string, subject: string): Promise<string[]> {
  return scanKeys(client, [subjectPattern(prefix, subject), subjectUnderRootPattern(prefix, subject)]);
}

export async function inspectSubject(client: Redis | Cluster, prefix: string, subject: string): Promise<SubjectSnapshot> {
  const [seconds = '0', micros = '0'] = (await client.time()).map(String);
  const snapshot: { -readonly [K in keyof SubjectSnapshot]: SubjectSnapshot[K] } = {
    buckets: [],
    redisNowMs: Number(seconds) * 1000 + Math.floor(Number(micros) / 1000),
  };
  for (const key of await subjectKeys(client, prefix, subject)) {
    const parsed = parseBucketKey(prefix, subject, key);
    const tag = baseOf(prefix, subject, key);
    if (parsed !== undefined) {
      const [tokens, updated] = await client.hmget(key, 't', 'u');
      const ttlMs = await client.pttl(key);
      snapshot.buckets.push({ key, ...parsed, tokens: Number(tokens), updatedMs: Number(updated), ttlMs });
    } else if (key === `${tag}:block`) snapshot.blockedUntilMs = Number(await client.get(key));
    else if (key === `${tag}:strikes`) snapshot.strikes = Number(await client.get(key));
    else if (key === `${tag}:violations`) snapshot.violations = Number(await client.get(key));
  }
  return snapshot;
}

/** Deletes the subject's buckets, block, strikes and violations; returns how many keys went. */
export async function resetSubject(client: Redis | Cluster, prefix: string, subject: string): Promise<number> {
  const keys = await subjectKeys(client, prefix, subject);
  // One DEL per hash tag (its own slot, its own base), valid on a cluster too.
  const byBase = new Map<string, string[]>();
  for (const key of keys) {
    const base = baseOf(prefix, subject, key) ?? key;
    byBase.set(base, [...(byBase.get(base) ?? []), key]);
  }
  let removed = 0;
  for (const group of byBase.values()) removed += await client.del(...group);
  return removed;
}
