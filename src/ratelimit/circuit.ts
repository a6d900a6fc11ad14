// The Redis limiter's circuit breaker: stops waiting on a Redis that is known to be down.
//
// Why: with Redis gone every check used to wait out the full timeout before applying its fail
// mode, and calls queued behind a dead connection waited longer still (p50 57-77 ms, max 208 ms,
// past Envoy's 200 ms budget). Open, the circuit answers each check with its limits'
// on_redis_error in microseconds, and a PING in the background decides when to try Redis again.
//
//   closed    → open       the connection is not ready (refused, closed, reconnecting), or
//                          `failures` calls in a row failed while Redis answered nothing else
//                          (some nodes of a Cluster can fail while the others answer: those
//                          failures are each call's own, and the circuit stays closed)
//   open      → half_open  a probe PING was answered on a ready connection
//   half_open → closed     the first check answered by Redis
//   half_open → open       the first check that fails
// Each transition is reported once (logs, metrics), never per check.

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitOptions {
  /** Calls failed in a row that open the circuit. */
  readonly failures: number;
  /** How often an open circuit probes Redis. */
  readonly probeMs: number;
  /** Whether the connection is up; read on every check, so it must be as cheap as a field read. */
  readonly connected: () => boolean;
  /** One PING with its own timeout; true when Redis answered. Never rejects. */
  readonly probe: () => Promise<boolean>;
  /** Whether Redis answered any call lately; read on failures only. */
  readonly answering: () => boolean;
  readonly onChange?: (to: CircuitState, from: CircuitState, cause: string) => void;
}

export class Circuit {
  #state: CircuitState = 'closed';
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #probing = false;
  #stopped = false;
  // Bound once: the interval allocates nothing per tick.
  readonly #tick = () => void this.#probe();

  constructor(private readonly options: CircuitOptions) {}

  get state(): CircuitState {
    return this.#state;
  }

  /** On every check: whether to call Redis at all. */
  allows(): boolean {
    if (this.#state === 'open') return false;
    if (this.options.connected()) return true;
    this.open('connection not ready');
    return false;
  }

  /** A call Redis answered. */
  succeeded(): void {
    this.#failures = 0;
    if (this.#state === 'half_open') this.#move('closed', 'redis answered a check');
  }

  /** A call that failed or timed out; `cause` is its error class. */
  failed(cause: string): void {
    if (this.#state === 'open') return;
    if (this.#state === 'half_open') return this.open(cause);
    if (++this.#failures >= this.options.failures && !this.options.answering()) this.open(cause);
  }

  /** Opens now (the connection closed) and starts probing. */
  open(cause: string): void {
    if (this.#state === 'open' || this.#stopped) return;
    this.#failures = 0;
    this.#move('open', cause);
    this.#timer ??= setInterval(this.#tick, this.options.probeMs).unref();
  }

  /** The connection just became ready: probe now rather than at the next tick. */
  probeNow(): void {
    if (this.#state === 'open') void this.#probe();
  }

  stop(): void {
    this.#stopped = true;
    this.#stopProbing();
  }

  async #probe(): Promise<void> {
    // A probe on a connection that is not ready would only be refused: ioredis reconnects by
    // itself and 'ready' calls probeNow.
    if (this.#probing || this.#state !== 'open' || !this.options.connected()) return;
    this.#probing = true;
    const answered = await this.options.probe();
    this.#probing = false;
    if (!answered || this.#state !== 'open' || this.#stopped) return;
    this.#stopProbing();
    this.#move('half_open', 'redis answered a probe');
  }

  #stopProbing(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #move(to: CircuitState, cause: string): void {
    const from = this.#state;
    this.#state = to;
    this.options.onChange?.(to, from, cause);
  }
}
