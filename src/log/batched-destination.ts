// Collects log lines written within one event-loop turn and hands them to the real stream as one
// write, so a check's decision line costs an array push instead of a stream write.
//
// Why: sonic-boom (pino's destination) measures the byte length of its whole pending buffer on
// every write, and under load that buffer grows while an fs.write is in flight: ~4 µs per
// decision line on a 2-core machine, a third of the line's cost (docs/performance.md). Lines stay
// in order: every logger of the process writes through the same batch.

import type { DestinationStream } from 'pino';

/** What the batch writes into: pino's own destination (sonic-boom) in production. */
export interface LineSink {
  write(chunk: string): unknown;
  flush?(cb?: (err?: Error | null) => void): void;
  flushSync?(): void;
  end?(): void;
}

export interface BatchedDestination extends DestinationStream {
  /** Hands pending lines to the sink now, then asks the sink to flush. */
  flush(cb?: (err?: Error | null) => void): void;
  /** Pending lines to the sink and the sink to its file, synchronously (exit paths). */
  flushSync(): void;
  end(): void;
}

export interface BatchOptions {
  /** Hand over early once this many characters wait, so a synchronous burst stays bounded. */
  readonly maxPendingChars?: number;
}

// One exit listener for every batch of the process (tests start many loggers).
const live = new Set<() => void>();
let exitHooked = false;
function onProcessExit(flushSync: () => void): () => void {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const flush of live) flush();
    });
  }
  live.add(flushSync);
  return () => live.delete(flushSync);
}

export function batchedDestination(sink: LineSink, options: BatchOptions = {}): BatchedDestination {
  const maxPending = options.maxPendingChars ?? 64 * 1024;
  let pending: string[] = [];
  let pendingChars = 0;
  let scheduled = false;

  const drain = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    pendingChars = 0;
    try {
      sink.write(chunk);
    } catch {
      // A closed stdout must not take the server down from a timer; the lines are lost either way.
    }
  };
  // setImmediate runs after the turn's I/O callbacks: every check answered in this turn has logged by then.
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
  const flushSync = (): void => {
    drain();
    try {
      sink.flushSync?.();
    } catch {
      // same as above: nothing left to tell
    }
  };
  // Lines written in the last turn before exit (a fatal error, a shutdown line) must still reach the file.
  const forget = onProcessExit(flushSync);

  return {
    write(line: string) {
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= maxPending) drain();
      else schedule();
      return true;
    },
    flush(cb) {
      drain();
      if (sink.flush) sink.flush(cb);
      else cb?.();
    },
    flushSync,
    end() {
      drain();
      forget();
      sink.end?.();
    },
  };
}
