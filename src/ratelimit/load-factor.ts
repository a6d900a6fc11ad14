// Polls the operator's load-factor key, a number in [0, 1] that scales every refill rate down
// while the model backend is hot. Polled (not read inside the check script) because the key has
// no subject hash tag and so lives in another cluster slot.

import type { Redis, Cluster } from 'ioredis';

export interface LoadFactorOptions {
  readonly key: string;
  readonly refreshMs: number;
  readonly min: number;
}

/** Parses the key's value: missing or unparsable means no scaling; the rest is clamped. */
export function parseLoadFactor(raw: string | null, min: number): number {
  const value = raw === null ? NaN : Number(raw);
  if (!Number.isFinite(value)) return 1;
  return Math.min(1, Math.max(min, value));
}

export class LoadFactor {
  #value = 1;
  #reading = false;
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly client: Redis | Cluster, private readonly options: LoadFactorOptions) {
    this.#timer = setInterval(() => void this.refresh(), options.refreshMs);
    this.#timer.unref();
    void this.refresh();
  }

  get value(): number {
    return this.#value;
  }

  /** Keeps the last known value when Redis cannot answer: a blip must not reset a throttle. */
  async refresh(): Promise<void> {
    // One read at a time: the limiter's connection has no per-command timeout, so reads sent to
    // a hung Redis would otherwise pile up, one per interval.
    if (this.#reading) return;
    this.#reading = true;
    try {
      this.#value = parseLoadFactor(await this.client.get(this.options.key), this.options.min);
    } catch {
      // Connection errors are logged once by the limiter's client error handler.
    } finally {
      this.#reading = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
