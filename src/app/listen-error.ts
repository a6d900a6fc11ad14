// A listener that could not bind, named by its address: the one line `modelgate serve` prints
// before exiting 1 (gRPC, HTTP and admin ports alike, single-process or `--workers`).

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

export class ListenError extends Error {
  override readonly name = 'ListenError';

  constructor(
    /** What listens there: `gRPC`, `HTTP authorization`, `admin`. */
    readonly role: string,
    readonly address: string,
    /** The system error code (EADDRINUSE…) when there is one. */
    readonly code: string | undefined,
    cause: unknown,
  ) {
    const reason = (code && REASONS[code]) ?? (cause instanceof Error ? cause.message : String(cause));
    super(`cannot listen on ${address} (${role}): ${reason}`, { cause });
  }
}

/** Resolves as `starting` does, or rejects with a ListenError naming `address`. */
export function listening<T>(role: string, address: string, starting: Promise<T>): Promise<T> {
  return starting.catch((error: unknown) => {
    throw new ListenError(role, address, errorCode(error), error);
  });
}

/** node:net puts the code on the error; grpc-js only in its message ("listen EADDRINUSE: …"). */
function errorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return code;
  const message = error instanceof Error ? error.message : String(error);
  return /\b(E[A-Z][A-Z_]{2,})\b/.exec(message)?.[1];
}
