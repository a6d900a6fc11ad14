// Gives up on calls that outlive one fixed timeout, with a single timer for all of them.
//
// Why not a timer per call: every check makes one Redis call, and a setTimeout/clearTimeout pair
// plus Promise.race per call was a measurable share of a check. Calls here share the timeout and
// start in order, so the oldest pending call always expires first: a FIFO and one timer armed for
// its head suffice.

interface Pending {
  readonly expiresAt: number;
  settled: boolean;
  readonly reject: (error: Error) => void;
}

export class Deadlines {
  #queue: Pending[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly timeoutError: () => Error,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /**
   * Settles like `promise`, or rejects with the timeout error once `timeoutMs` passed first.
   * The loser's outcome is swallowed, never unhandled.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { expiresAt: this.now() + this.timeoutMs, settled: false, reject };
      this.#queue.push(pending);
      if (this.#timer === undefined) this.#arm(this.timeoutMs);
      promise.then(
        (value) => {
          if (pending.settled) return;
          pending.settled = true;
          resolve(value);
        },
        (error: unknown) => {
          if (pending.settled) return;
          pending.settled = true;
          reject(error);
        },
      );
    });
  }

  /** Calls not yet settled; for tests. */
  get pending(): number {
    let n = 0;
    for (let i = this.#head; i < this.#queue.length; i++) if (!this.#queue[i]!.settled) n++;
    return n;
  }

  #arm(ms: number): void {
    // unref: a pending Redis call keeps the process alive by its socket, not by this timer.
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, Math.ceil(ms))).unref();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const first = queue[this.#head]!;
      if (!first.settled && first.expiresAt > now) break;
      this.#head++;
      if (!first.settled) {
        first.settled = true;
        first.reject(this.timeoutError());
      }
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    this.#arm(this.#queue[this.#head]!.expiresAt - now);
  }
}
