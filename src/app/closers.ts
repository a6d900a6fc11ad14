// The composition root's one stack of closers: every resource is pushed as soon as it is open, and
// the stack unwinds in reverse, once, on a failed start and on close.

export type CloseFailure = (name: string, error: unknown) => void;

export class Closers {
  readonly #stack: Array<{ readonly name: string; readonly close: () => unknown }> = [];
  #closed: Promise<void> | undefined;

  /** `close` may return a promise; it is awaited before the resource opened before it is closed. */
  push(name: string, close: () => unknown): void {
    if (this.#closed) throw new Error(`cannot open ${name}: already closing`);
    this.#stack.push({ name, close });
  }

  /**
   * Closes everything, last opened first. A closer that throws is reported and the rest still run:
   * one stuck resource must not keep a port or a Redis connection open. Later calls share the first.
   */
  close(onFailure?: CloseFailure): Promise<void> {
    this.#closed ??= (async () => {
      for (let entry = this.#stack.pop(); entry; entry = this.#stack.pop()) {
        try {
          await entry.close();
        } catch (error) {
          onFailure?.(entry.name, error);
        }
      }
    })();
    return this.#closed;
  }
}
