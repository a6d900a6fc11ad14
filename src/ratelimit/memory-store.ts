// Bounded in-process key-value store with per-key expiry on the injected clock: Redis's role
// for the embedded limiter and the fail-open fallback, and the deny cache's memory.

import { ExpiryHeap } from './expiry-heap.js';
import type { BucketState, TokenStore } from './take-tokens.js';

export interface StoreEntry {
  readonly key: string;
  value: BucketState | number;
  expiresAt: number;
  slot: number;
}

/** How many expired entries each write forgets, at most. */
const SWEEP_PER_WRITE = 2;

/**
 * What a full store does with a new key.
 * - `lossless` (the limiter): only expired entries are ever forgotten. A bucket's entry expires
 *   when it would be full again (and a block when it ends), so forgetting it is invisible, while
 *   forgetting a live one would hand an exhausted caller a fresh bucket. The limiter asks
 *   `admit()` before a take; a full store then answers "no room" instead of forgetting anyone.
 * - `lossy` (caches): the entry that expires first goes, expired or not; a cache miss only costs
 *   a question to Redis.
 */
export type EvictionMode = 'lossless' | 'lossy';

/** Entries live in a map for lookup and in a heap by expiry, so the next to forget is at its top. */
export class MemoryStore {
  readonly #entries = new Map<string, StoreEntry>();
  readonly #heap = new ExpiryHeap<StoreEntry>();
  /** While true, writing a bucket that is not stored yet is skipped (see MemoryTokens.take). */
  bucketsFrozen = false;

  constructor(
    readonly maxEntries: number,
    private readonly mode: EvictionMode = 'lossy',
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * A TokenStore that reads expiry against `nowMs`; valid for one synchronous take. The same
   * object is handed out each time (only its clock changes), so a take allocates no closures.
   */
  view(nowMs: number): TokenStore {
    this.#view.nowMs = nowMs;
    return this.#view;
  }

  readonly #view = new StoreView(this);

  /**
   * Whether a take that may write `keys` fits: true when the store has room for every one of them
   * that is not live yet, after forgetting expired entries (never a live one). Conservative: a
   * take writes at most these keys, often fewer.
   */
  admit(keys: readonly string[], nowMs: number): boolean {
    if (this.#entries.size + keys.length <= this.maxEntries) return true;
    let missing = 0;
    for (const key of keys) {
      const entry = this.#entries.get(key);
      if (entry === undefined || entry.expiresAt <= nowMs) missing++;
    }
    while (this.#entries.size + missing > this.maxEntries) {
      const first = this.#heap.peek();
      if (first === undefined || first.expiresAt > nowMs) return false;
      this.delete(first);
    }
    return true;
  }

  /** Removes every key starting with `prefix` (operator reset); returns how many. */
  removePrefix(prefix: string): number {
    return this.removeMatching((key) => key.startsWith(prefix));
  }

  /** Removes every key `matches` accepts (operator reset); returns how many. */
  removeMatching(matches: (key: string) => boolean): number {
    let removed = 0;
    for (const entry of this.#entries.values()) {
      if (matches(entry.key)) {
        this.delete(entry);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#entries.clear();
    this.#heap.clear();
  }

  /** The live entry for `key`; an expired one is forgotten on the way. */
  live(key: string, nowMs: number): StoreEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > nowMs) return entry;
    this.delete(entry);
    return undefined;
  }

  write(key: string, value: BucketState | number, expiresAt: number, nowMs: number): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.value = value;
      entry.expiresAt = expiresAt;
      this.#heap.update(entry);
    } else {
      this.#makeRoomForOne(nowMs);
      const created: StoreEntry = { key, value, expiresAt, slot: -1 };
      this.#entries.set(key, created);
      this.#heap.push(created);
    }
    this.#sweep(nowMs);
  }

  delete(entry: StoreEntry): void {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    this.#heap.remove(entry);
  }

  #makeRoomForOne(nowMs: number): void {
    while (this.#entries.size >= this.maxEntries) {
      const first = this.#heap.peek();
      if (first === undefined) return;
      // Lossless: a live entry is never forgotten. Buckets are admitted first (admit()); block
      // state, written without asking, overfills the store a little rather than spare a deny.
      if (first.expiresAt > nowMs && this.mode === 'lossless') return;
      this.delete(first);
    }
  }

  #sweep(nowMs: number): void {
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      const first = this.#heap.peek();
      if (first === undefined || first.expiresAt > nowMs) return;
      this.delete(first);
    }
  }
}

class StoreView implements TokenStore {
  nowMs = 0;

  constructor(private readonly store: MemoryStore) {}

  getBucket(key: string): BucketState | undefined {
    const v = this.store.live(key, this.nowMs)?.value;
    return typeof v === 'object' ? v : undefined;
  }

  setBucket(key: string, value: BucketState, ttlMs: number): void {
    if (this.store.bucketsFrozen && this.store.live(key, this.nowMs) === undefined) return;
    this.store.write(key, value, this.nowMs + ttlMs, this.nowMs);
  }

  getNumber(key: string): number | undefined {
    const v = this.store.live(key, this.nowMs)?.value;
    return typeof v === 'number' ? v : undefined;
  }

  setNumber(key: string, value: number, ttlMs: number): void {
    this.store.write(key, value, this.nowMs + ttlMs, this.nowMs);
  }

  increment(key: string, ttlMsWhenNew: number): number {
    const entry = this.store.live(key, this.nowMs);
    if (entry !== undefined && typeof entry.value === 'number') {
      entry.value += 1;
      return entry.value;
    }
    this.store.write(key, 1, this.nowMs + ttlMsWhenNew, this.nowMs);
    return 1;
  }

  remove(key: string): void {
    const entry = this.store.live(key, this.nowMs);
    if (entry !== undefined) this.store.delete(entry);
  }
}
