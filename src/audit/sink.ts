// The port every receiver writes to: append records, learn when they are durable.

import type { AuditRecord } from './record.js';

export interface AppendResult {
  /** Store-wide sequence number of the last record of this call (or the current tip if none). */
  readonly lastSeq: number;
}

/**
 * Contract: `append` resolves only after every given record is fsynced into the chain, in order;
 * it rejects only when the store is broken (disk error, lost lock), never for a bad record.
 * Calls may overlap; records keep the order of the calls.
 */
export interface AuditSink {
  append(records: readonly AuditRecord[]): Promise<AppendResult>;
}
