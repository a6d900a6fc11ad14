// One bound on a Redis call: the limiter's readiness PING and close, budgets' settlement.

/**
 * Races `promise` against a timer; the loser's rejection is swallowed, never unhandled. A command
 * that already reached Redis may still run after we gave up on it: callers say what that means.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
