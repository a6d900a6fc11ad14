// The budget ledger in this process's memory: the embedded limiter's ledger and the Redis
// limiter's fail_open fallback (per replica). The same steps as admit-script.ts in the same order,
// so one scenario table gives identical results on both (test/integration/budget).

import type { Admitter } from '../ratelimit/take-tokens.js';
import { SETTLED_KEEP_MS, SWEEP_MAX, type Admission, type AdmissionVerdict, type ReservationRecord } from './admission.js';

interface Expiring {
  expiresAt: number;
}
interface Counter extends Expiring {
  value: number;
}
interface Slices extends Expiring {
  readonly slices: Map<number, number>;
}
/** Redis's reserved hash and expiry sorted set of one line, in one object. */
interface Reserved extends Expiring {
  sum: number;
  readonly amounts: Map<string, number>;
  readonly expiry: Map<string, number>;
}
interface Leases extends Expiring {
  readonly members: Map<string, number>;
}
interface RecordEntry extends Expiring {
  readonly record: ReservationRecord;
  settled: boolean;
}

/** Full scans for expired entries run once per this many admissions (Redis expires keys itself). */
const PURGE_EVERY = 1_024;

/** A line's settlement: the actual amount and where it is counted (slice -1: calendar counter). */
export interface SettleLine {
  readonly usedKey: string;
  readonly reservedKey: string;
  readonly amount: number;
  readonly slice: number;
  readonly usedTtlMs: number;
}

export class MemoryLedger {
  readonly #counters = new Map<string, Counter>();
  readonly #rolling = new Map<string, Slices>();
  readonly #reserved = new Map<string, Reserved>();
  readonly #leases = new Map<string, Leases>();
  readonly #records = new Map<string, RecordEntry>();
  #admissions = 0;

  /** The admission hook for takeTokens: decides now, writes only in `commit`. */
  admitter(a: Admission): Admitter {
    return () => this.#decide(a);
  }

  #decide(a: Admission): ReturnType<Admitter> {
    const now = a.nowMs;
    if (++this.#admissions % PURGE_EVERY === 0) this.purge(now);
    const used: number[] = [];
    const reserved: number[] = [];
    let expired = 0;
    let deny: AdmissionVerdict | undefined;
    a.lines.forEach((line, i) => {
      const swept = this.#sweep(line.reservedKey, now);
      const { sum, oldest } = this.#used(line.usedKey, line.slice, line.spec.kind === 'rolling' ? line.spec.slices : 0, now);
      expired += swept.gone;
      used.push(sum);
      reserved.push(swept.left);
      if (deny === undefined && !line.shadow && sum + swept.left + line.amount > line.limit) {
        deny = { ok: false, expired: 0, kind: 'budget', index: i, used: sum, reserved: swept.left, oldest };
      }
    });
    a.leases.forEach((lease, j) => {
      const set = live(this.#leases, lease.key, now);
      if (set !== undefined) for (const [member, score] of set.members) if (score <= now) set.members.delete(member);
      const count = set?.members.size ?? 0;
      if (deny === undefined && !lease.shadow && count >= lease.max) {
        deny = { ok: false, expired: 0, kind: 'lease', index: j, count, oldest: first(set!.members)?.[1] ?? now };
      }
    });
    if (deny !== undefined) return { verdict: { ...deny, expired } };
    return {
      verdict: { ok: true, expired, used, reserved },
      commit: () => {
        const after: number[] = [];
        a.lines.forEach((line) => {
          let r = live(this.#reserved, line.reservedKey, now);
          if (r === undefined) {
            r = { sum: 0, amounts: new Map(), expiry: new Map(), expiresAt: Infinity };
            this.#reserved.set(line.reservedKey, r);
          }
          r.amounts.set(a.member, line.amount);
          r.sum += line.amount;
          r.expiry.set(a.member, a.expiresAt);
          extend(r, now, a.recordTtlMs);
          after.push(r.sum);
        });
        for (const lease of a.leases) {
          let set = live(this.#leases, lease.key, now);
          if (set === undefined) {
            set = { members: new Map(), expiresAt: Infinity };
            this.#leases.set(lease.key, set);
          }
          set.members.set(a.member, a.expiresAt);
          extend(set, now, a.recordTtlMs);
        }
        this.#records.set(a.recordKey, { record: a.record, settled: false, expiresAt: now + a.recordTtlMs });
        return { ok: true, expired, used, reserved: after };
      },
    };
  }

  /** ZRANGEBYSCORE -inf now LIMIT 0 SWEEP_MAX, then HMGET, HDEL, ZREM, HINCRBY: lowest expiry first, ties by member. */
  #sweep(key: string, now: number): { left: number; gone: number } {
    const r = live(this.#reserved, key, now);
    if (r === undefined) return { left: 0, gone: 0 };
    const due = [...r.expiry].filter(([, score]) => score <= now);
    if (due.length === 0) return { left: r.sum, gone: 0 };
    due.sort(([m1, s1], [m2, s2]) => s1 - s2 || (m1 < m2 ? -1 : m1 > m2 ? 1 : 0));
    const gone = due.slice(0, SWEEP_MAX);
    for (const [member] of gone) {
      r.sum -= r.amounts.get(member) ?? 0;
      r.amounts.delete(member);
      r.expiry.delete(member);
    }
    if (r.sum < 0) r.sum = 0;
    return { left: r.sum, gone: gone.length };
  }

  #used(key: string, slice: number, slices: number, now: number): { sum: number; oldest: number } {
    if (slice < 0) return { sum: live(this.#counters, key, now)?.value ?? 0, oldest: -1 };
    const h = live(this.#rolling, key, now);
    let sum = 0;
    let oldest = -1;
    if (h === undefined) return { sum, oldest };
    for (const [idx, amount] of h.slices) {
      if (idx < slice - slices) h.slices.delete(idx);
      else {
        sum += amount;
        if (oldest < 0 || idx < oldest) oldest = idx;
      }
    }
    return { sum, oldest };
  }

  /** SETTLE_LUA: 'unknown' | 'already_settled' | 'settled' with each line's held flag. */
  settle(recordKey: string, member: string, lines: readonly SettleLine[], leaseKeys: readonly string[], mode: 'settle' | 'release', now: number): { outcome: 'unknown' | 'already_settled' | 'settled'; held: boolean[] } {
    const rec = live(this.#records, recordKey, now);
    if (rec === undefined) return { outcome: 'unknown', held: [] };
    for (const key of leaseKeys) live(this.#leases, key, now)?.members.delete(member);
    if (mode === 'release') return { outcome: 'settled', held: [] };
    if (rec.settled) return { outcome: 'already_settled', held: [] };
    const held = lines.map((line) => {
      const r = live(this.#reserved, line.reservedKey, now);
      const amount = r?.amounts.get(member);
      if (r !== undefined && amount !== undefined) {
        r.amounts.delete(member);
        r.expiry.delete(member);
        r.sum = Math.max(0, r.sum - amount);
      }
      if (line.slice < 0) {
        let c = live(this.#counters, line.usedKey, now);
        if (c === undefined) this.#counters.set(line.usedKey, (c = { value: 0, expiresAt: Infinity }));
        c.value += line.amount;
        extend(c, now, line.usedTtlMs);
      } else {
        let h = live(this.#rolling, line.usedKey, now);
        if (h === undefined) this.#rolling.set(line.usedKey, (h = { slices: new Map(), expiresAt: Infinity }));
        h.slices.set(line.slice, (h.slices.get(line.slice) ?? 0) + line.amount);
        extend(h, now, line.usedTtlMs);
      }
      return amount !== undefined;
    });
    rec.settled = true;
    rec.expiresAt = Math.min(rec.expiresAt, now + SETTLED_KEEP_MS);
    return { outcome: 'settled', held };
  }

  /** The stored record of a reservation (settlement reads it first, like HGET d). */
  record(recordKey: string, now: number): { record: ReservationRecord; settled: boolean } | undefined {
    return live(this.#records, recordKey, now);
  }

  /** Used and reserved of one line, for `budgets show` of an embedded ledger and tests. */
  peek(usedKey: string, reservedKey: string, slice: number, slices: number, now: number): { used: number; reserved: number } {
    return { used: this.#used(usedKey, slice, slices, now).sum, reserved: this.#sweepless(reservedKey, now) };
  }

  #sweepless(key: string, now: number): number {
    return live(this.#reserved, key, now)?.sum ?? 0;
  }

  /** Forgets every key under `prefix` (operator reset); returns how many. */
  removePrefix(prefix: string): number {
    let removed = 0;
    for (const map of [this.#counters, this.#rolling, this.#reserved, this.#leases, this.#records] as Map<string, unknown>[]) {
      for (const key of map.keys()) {
        if (key.startsWith(prefix)) {
          map.delete(key);
          removed++;
        }
      }
    }
    return removed;
  }

  /** Drops every expired entry. */
  purge(now: number): void {
    for (const map of [this.#counters, this.#rolling, this.#reserved, this.#leases, this.#records] as Map<string, Expiring>[]) {
      for (const [key, entry] of map) if (entry.expiresAt <= now) map.delete(key);
    }
  }

  clear(): void {
    for (const map of [this.#counters, this.#rolling, this.#reserved, this.#leases, this.#records] as Map<string, unknown>[]) map.clear();
  }
}

function live<E extends Expiring>(map: Map<string, E>, key: string, now: number): E | undefined {
  const entry = map.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiresAt > now) return entry;
  map.delete(key);
  return undefined;
}

/** PTTL < ttl → PEXPIRE ttl: only ever lengthens (a key new in this call has no expiry yet). */
function extend(entry: Expiring, now: number, ttlMs: number): void {
  if (entry.expiresAt === Infinity || entry.expiresAt - now < ttlMs) entry.expiresAt = now + ttlMs;
}

/** The lowest score, ties by member: ZRANGE key 0 0 WITHSCORES. */
function first(members: Map<string, number>): [string, number] | undefined {
  let best: [string, number] | undefined;
  for (const [m, s] of members) if (best === undefined || s < best[1] || (s === best[1] && m < best[0])) best = [m, s];
  return best;
}
