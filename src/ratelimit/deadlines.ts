// Gives up on Redis calls that Redis did not answer in time, with a single timer for all of them.
//
// Why one timer: every check makes one Redis call, and a setTimeout/clearTimeout pair plus
// Promise.race per call was a measurable share of a check. Calls share the timeout and start in
// order, so the oldest pending call always expires first: a FIFO and one timer for its head.
//
// Why a timer firing is not enough: it says that time passed, not that Redis was slow. When
// modelgate's own loop is busy (a burst of checks, GC, the OS running another process) the reply
// can sit unread in the socket, or the command can still wait for its write, while the timer
// fires; the script then spends tokens for a check already answered 503. So a call expires only
//   - after an I/O turn: the timer only schedules the decision (setImmediate), so the poll phase
//     in between reads every reply that has arrived;
//   - once it has waited `timeoutMs` and Redis has answered nothing at all for `timeoutMs` of our
//     own on-time loop: while replies keep coming, Redis is alive and the call is queued behind
//     others (one connection answers in order);
//   - time the loop was not running when it should have (the timer's lateness, the I/O turn)
//     does not count as Redis's silence, and a stall (either one a quarter of the timeout long)
//     restarts the silence: commands behind it may only just have been written. While calls are
//     pending the timer ticks every quarter of the timeout, so stalls are seen even when they
//     end before any call is due.
// A call that waited `maxWaitMs` of on-time loop (since it started or since the last stall)
// expires even while other calls are answered (a hung node of a Redis Cluster, whose siblings
// keep answering).

interface Pending {
  readonly startedAt: number;
  /** `#lostMs` when the call started. */
  readonly lostAtStart: number;
  settled: boolean;
  readonly reject: (error: Error) => void;
}

export interface DeadlinesOptions {
  readonly timeoutMs: number;
  /** Longest wait while Redis keeps answering other calls; default 4 × timeoutMs. */
  readonly maxWaitMs?: number;
  readonly timeoutError: () => Error;
  readonly now?: () => number;
}

/** Timer lateness up to this is ordinary jitter, not time the loop lost. */
const JITTER_MS = 1;

export class Deadlines {
  #queue: Pending[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = 0;
  #firedAt = 0;
  #deciding = false;
  /** When Redis last answered any call. */
  #answeredAt = -Infinity;
  /** Where Redis's current silence starts: its last answer, or the loop's last stall if later. */
  #heardAt = -Infinity;
  /** `#lostMs` at `#heardAt`. */
  #lostAtHeard = 0;
  /** Total time the loop was observed not running when it should have. */
  #lostMs = 0;
  /** The last stall (a lateness of a tick or more), and `#lostMs` then. */
  #stallAt = -Infinity;
  #lostAtStall = 0;
  readonly #timeoutMs: number;
  readonly #maxWaitMs: number;
  /** The tick while calls are pending, and the lateness that counts as a stall. */
  readonly #tickMs: number;
  readonly #timeoutError: () => Error;
  readonly #now: () => number;
  // Bound once, so arming the timer or the I/O turn allocates no closure.
  readonly #onTimer = () => this.#timerFired();
  readonly #decide = () => this.#expire();

  constructor(options: DeadlinesOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#maxWaitMs = Math.max(options.maxWaitMs ?? options.timeoutMs * 4, options.timeoutMs);
    this.#tickMs = Math.max(JITTER_MS, options.timeoutMs / 4);
    this.#timeoutError = options.timeoutError;
    this.#now = options.now ?? performance.now.bind(performance);
  }

  /**
   * Settles like `promise`, or rejects with the timeout error once Redis did not answer in time.
   * The loser's outcome is swallowed, never unhandled.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const startedAt = this.#now();
      const pending: Pending = { startedAt, lostAtStart: this.#lostMs, settled: false, reject };
      this.#queue.push(pending);
      if (this.#timer === undefined && !this.#deciding) this.#arm(this.#tickMs, startedAt);
      promise.then(
        (value) => {
          // Even a reply we gave up on proves that Redis is answering.
          const now = this.#now();
          this.#answeredAt = now;
          this.#heard(now);
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

  /** Rejects every pending call now: the connection is gone, so no reply can come. */
  failAll(error: Error): void {
    const queue = this.#queue;
    this.#queue = [];
    this.#head = 0;
    for (const pending of queue) {
      if (pending.settled) continue;
      pending.settled = true;
      pending.reject(error);
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Whether Redis answered any call in the last `ms` (late replies included). */
  answeredWithin(ms: number): boolean {
    return this.#now() - this.#answeredAt < ms;
  }

  /** Calls not yet settled; for tests. */
  get pending(): number {
    let n = 0;
    for (let i = this.#head; i < this.#queue.length; i++) if (!this.#queue[i]!.settled) n++;
    return n;
  }

  #heard(now: number): void {
    this.#heardAt = now;
    this.#lostAtHeard = this.#lostMs;
  }

  #arm(ms: number, now: number): void {
    const delay = Math.max(1, Math.ceil(Math.min(ms, this.#tickMs)));
    this.#armedFor = now + delay;
    // unref: a pending Redis call keeps the process alive by its socket, not by this timer.
    this.#timer = setTimeout(this.#onTimer, delay).unref();
  }

  #timerFired(): void {
    this.#timer = undefined;
    const now = this.#now();
    this.#lost(now - this.#armedFor, now);
    this.#firedAt = now;
    this.#deciding = true;
    setImmediate(this.#decide);
  }

  /** Counts time the loop was away; a stall restarts Redis's silence and every call's wait. */
  #lost(ms: number, now: number): void {
    if (ms <= JITTER_MS) return;
    this.#lostMs += ms;
    if (ms < this.#tickMs) return;
    this.#stallAt = now;
    this.#lostAtStall = this.#lostMs;
    if (now > this.#heardAt) this.#heard(now);
  }

  /** How long a call has waited on an on-time loop, since it started or the last stall. */
  #waitedOnTime(pending: Pending, now: number): number {
    return pending.startedAt >= this.#stallAt
      ? now - pending.startedAt - (this.#lostMs - pending.lostAtStart)
      : now - this.#stallAt - (this.#lostMs - this.#lostAtStall);
  }

  #expire(): void {
    this.#deciding = false;
    const now = this.#now();
    this.#lost(now - this.#firedAt, now);
    const lost = this.#lostMs;
    const silent = now - this.#heardAt - (lost - this.#lostAtHeard) >= this.#timeoutMs;
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const first = queue[this.#head]!;
      if (!first.settled) {
        const waited = now - first.startedAt;
        if (waited < this.#timeoutMs) break;
        if (!silent && this.#waitedOnTime(first, now) < this.#maxWaitMs) break;
        first.settled = true;
        first.reject(this.#timeoutError());
      }
      this.#head++;
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
    // The head is the oldest pending call: no later one can expire before it.
    const head = this.#queue[this.#head]!;
    const waitedEnough = head.startedAt + this.#timeoutMs;
    const silentEnough = this.#heardAt + this.#timeoutMs + (lost - this.#lostAtHeard);
    const cappedAt = now + this.#maxWaitMs - this.#waitedOnTime(head, now);
    this.#arm(Math.max(waitedEnough, Math.min(silentEnough, cappedAt)) - now, now);
  }
}
