// The three kinds of line in a segment: records and recovery notes (both chained) and the signed checkpoint.

import { canonicalJson, entryHash } from './canonical.js';
import type { AuditRecord } from './record.js';
import { signText } from './signing.js';
import type { KeyObject } from 'node:crypto';

interface Chained {
  /** Position in the whole store, 1-based, never reused: a gap means a removed record. */
  readonly seq: number;
  /** `hash` of the previous chained entry (across segments), or the genesis hash. */
  readonly prev: string;
  /** SHA-256 of this entry's canonical bytes without `hash`. */
  readonly hash: string;
}

export interface RecordEntry extends Chained {
  readonly type: 'record';
  readonly record: AuditRecord;
}

/** Written after a crash cut off a torn final line, so the cut itself is on the record. */
export interface RecoveryEntry extends Chained {
  readonly type: 'recovery';
  readonly time: string;
  readonly segment: string;
  readonly line: number;
  readonly cut_bytes: number;
  readonly cut_sha256: string;
}

export type ChainedEntry = RecordEntry | RecoveryEntry;

export interface CheckpointEntry {
  readonly type: 'checkpoint';
  readonly segment: string;
  readonly time: string;
  readonly count: number;
  readonly first_seq: number;
  readonly last_seq: number;
  /** The hash the segment's first entry chains from: pins the link to the previous segment. */
  readonly first_prev: string;
  readonly last_hash: string;
  readonly key_id: string;
  /** Ed25519 over the canonical bytes of this entry without `sig`, base64. */
  readonly sig: string;
}

export type SegmentEntry = ChainedEntry | CheckpointEntry;

type Unchained<T extends ChainedEntry> = T extends unknown ? Omit<T, 'seq' | 'prev' | 'hash'> : never;

export function chain(body: Unchained<ChainedEntry>, seq: number, prev: string): ChainedEntry {
  const unhashed = { ...body, seq, prev };
  return { ...unhashed, hash: entryHash(unhashed) } as ChainedEntry;
}

export function signCheckpoint(body: Omit<CheckpointEntry, 'type' | 'sig'>, key: KeyObject): CheckpointEntry {
  const unsigned = { type: 'checkpoint' as const, ...body };
  return { ...unsigned, sig: signText(canonicalJson(unsigned), key) };
}

export function checkpointSignedText(entry: CheckpointEntry): string {
  const { sig: _sig, ...unsigned } = entry;
  return canonicalJson(unsigned);
}

export function entryLine(entry: SegmentEntry): string {
  return `${canonicalJson(entry)}\n`;
}
