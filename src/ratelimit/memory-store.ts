// Bounded in-process key-value store with per-key expiry on the injected clock: Redis's role
// for the embedded limiter and the fail-open fallback.

import type { BucketState, TokenStore } from './take-tokens.js';

interface Entry {
  value: BucketState | number;
  expiresAt: number;
}

/** How many of the least recently used entries each write inspects for expiry. */
const SWEEP_PER_WRITE = 2;

/**
 * Map order is recency order (touching an entry re-inserts it), so the first entries are the
 * idle ones. An expired bucket is full again, which is the same as absent, so dropping it is
 * invisible; past `maxEntries` the least recently used entry goes even if not yet expired,
 * which can only grant an idle caller a fresh bucket, never deny anyone.
 */
export class MemoryStore {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

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

  readonly #view = new StoreView(this.#entries, (nowMs) => this.#sweep(nowMs));

  /** Removes every key starting with `prefix` (operator reset); returns how many. */
  removePrefix(prefix: string): number {
    let removed = 0;
    for (const key of this.#entries.keys()) {
      if (key.startsWith(prefix)) {
        this.#entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#entries.clear();
  }

  #sweep(nowMs: number): void {
    let inspected = 0;
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size > this.maxEntries || entry.expiresAt <= nowMs) this.#entries.delete(key);
      else if (++inspected >= SWEEP_PER_WRITE) break;
    }
  }
}

class StoreView implements TokenStore {
  nowMs = 0;

  constructor(
    private readonly entries: Map<string, Entry>,
    private readonly sweep: (nowMs: number) => void,
  ) {}

  #read(key: string): BucketState | number | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.nowMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  #write(key: string, value: BucketState | number, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.nowMs + ttlMs });
    this.sweep(this.nowMs);
  }

  getBucket(key: string): BucketState | undefined {
    const v = this.#read(key);
    return typeof v === 'object' ? v : undefined;
  }

  setBucket(key: string, value: BucketState, ttlMs: number): void {
    this.#write(key, value, ttlMs);
  }

  getNumber(key: string): number | undefined {
    const v = this.#read(key);
    return typeof v === 'number' ? v : undefined;
  }

  setNumber(key: string, value: number, ttlMs: number): void {
    this.#write(key, value, ttlMs);
  }

  increment(key: string, ttlMsWhenNew: number): number {
    const current = this.#read(key);
    const entry = this.entries.get(key);
    const next = (typeof current === 'number' ? current : 0) + 1;
    if (entry !== undefined && typeof current === 'number') entry.value = next;
    else this.#write(key, next, ttlMsWhenNew);
    return next;
  }

  remove(key: string): void {
    this.entries.delete(key);
  }
}
