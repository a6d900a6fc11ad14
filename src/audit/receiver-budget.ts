// Bounds on what senders can make the receiver store: open streams, and entries per second. Without
// them one sender (even an allowed one gone wrong) could fill the disk or drown the report's baselines.

export interface ReceiverLimits {
  /** Open access-log streams at once; one more is refused with RESOURCE_EXHAUSTED. */
  readonly maxStreams: number;
  /** Sustained entries per second over all streams; the excess is dropped and counted. */
  readonly entriesPerSecond: number;
  /** Entries allowed in one burst above the sustained rate (the bucket's size). */
  readonly burst: number;
}

export interface ReceiverBudget {
  /** A stream slot, or false when all are taken. Each granted slot must be released exactly once. */
  openStream(): boolean;
  releaseStream(): void;
  /** How many of `wanted` entries may be stored now (the rest are to be dropped). */
  takeEntries(wanted: number): number;
}

/** A token bucket for entries and a counter of streams; `now` in ms, injected for tests. */
export function receiverBudget(limits: ReceiverLimits, now: () => number = Date.now): ReceiverBudget {
  let streams = 0;
  let tokens = limits.burst;
  let last = now();
  return {
    openStream() {
      if (streams >= limits.maxStreams) return false;
      streams += 1;
      return true;
    },
    releaseStream() {
      streams = Math.max(0, streams - 1);
    },
    takeEntries(wanted) {
      const at = now();
      // A clock that steps back refills nothing rather than draining the bucket.
      tokens = Math.min(limits.burst, tokens + (Math.max(0, at - last) / 1000) * limits.entriesPerSecond);
      last = at;
      const granted = Math.min(wanted, Math.floor(tokens));
      tokens -= granted;
      return granted;
    },
  };
}
