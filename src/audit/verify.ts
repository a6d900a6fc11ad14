// Walks every segment's hash chain and checkpoint and names the first line that was altered, removed or reordered.

import type { KeyObject } from 'node:crypto';
import { canonicalJson, entryHash, GENESIS_HASH } from './canonical.js';
import { checkpointSignedText, type CheckpointEntry, type SegmentEntry } from './chain-entry.js';
import { openStoreDir, readSegment, type SegmentFile } from './segment-files.js';
import { keyIdOf, verifyText } from './signing.js';

export type IssueKind =
  | 'altered'
  | 'removed'
  | 'reordered'
  | 'torn'
  | 'unsealed'
  | 'missing_segment'
  | 'checkpoint_mismatch'
  | 'signature_invalid'
  /** No trail at all: the directory is missing, not a directory, or holds no record (see `allowEmpty`). */
  | 'no_trail';

export interface VerifyIssue {
  readonly kind: IssueKind;
  readonly segment: string;
  /** 1-based line in the segment file; 0 for the file as a whole. */
  readonly line: number;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly segments: number;
  readonly entries: number;
  readonly checkpoints: number;
  /** False when no public key was given: checkpoint contents were checked, signatures were not. */
  readonly signaturesChecked: boolean;
  readonly issues: VerifyIssue[];
}

interface Line {
  readonly text: string;
  readonly entry?: SegmentEntry;
}

interface LoadedSegment {
  readonly file: SegmentFile;
  readonly lines: Line[];
  readonly tornBytes: number;
}

async function load(file: SegmentFile): Promise<LoadedSegment> {
  const split = await readSegment(file.path);
  const lines = split.lines.map((text): Line => {
    try {
      const entry = JSON.parse(text) as unknown;
      return entry && typeof entry === 'object' && 'type' in entry ? { text, entry: entry as SegmentEntry } : { text };
    } catch {
      return { text };
    }
  });
  return { file, lines, tornBytes: split.torn.length };
}

export interface VerifyOptions {
  readonly publicKey?: KeyObject;
  /** A missing directory or one without records verifies as OK (a trail not started yet); off by default. */
  readonly allowEmpty?: boolean;
}

export async function verifyStore(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const found = await openStoreDir(dir);
  if (!found.ok) return noTrail(dir, found.problem !== 'not_a_directory' && options.allowEmpty === true, found.message, options);
  const report = verifySegments(await Promise.all(found.segments.map(load)), options);
  if (report.ok && report.entries === 0) return noTrail(dir, options.allowEmpty === true, `${dir} holds no audit records`, options);
  return report;
}

function noTrail(dir: string, allowed: boolean, message: string, options: VerifyOptions): VerifyReport {
  const issues: VerifyIssue[] = allowed ? [] : [{ kind: 'no_trail', segment: dir, line: 0, message: `${message}: nothing to verify` }];
  return { ok: allowed, segments: 0, entries: 0, checkpoints: 0, signaturesChecked: options.publicKey !== undefined, issues };
}

function verifySegments(segments: readonly LoadedSegment[], options: VerifyOptions): VerifyReport {
  const issues: VerifyIssue[] = [];
  const where = new Map<number, string>(); // seq → "segment line N", to tell a move from a removal
  for (const s of segments) {
    s.lines.forEach((l, i) => {
      if (l.entry && l.entry.type !== 'checkpoint' && !where.has(l.entry.seq)) where.set(l.entry.seq, `${s.file.name} line ${i + 1}`);
    });
  }
  const expectedKeyId = options.publicKey ? keyIdOf(options.publicKey) : undefined;
  let expectedPrev = GENESIS_HASH;
  let expectedSeq = 1;
  let previousIndex = 0;
  let entries = 0;
  let checkpoints = 0;

  segments.forEach((segment, segmentNumber) => {
    const name = segment.file.name;
    const issue = (kind: IssueKind, line: number, message: string) => issues.push({ kind, segment: name, line, message });
    if (segment.file.index !== previousIndex + 1) {
      issue('missing_segment', 0, `segment index ${segment.file.index} follows ${previousIndex}: segment file(s) missing`);
    }
    previousIndex = segment.file.index;
    const firstPrev = expectedPrev;
    const firstSeq = expectedSeq;
    let count = 0;
    let sealed = false;
    let resync = false; // after an unreadable line its hash is unknown: adopt the next link instead of reporting twice
    segment.lines.forEach(({ text, entry }, i) => {
      const line = i + 1;
      if (sealed) return void issue('altered', line, 'line after the checkpoint (appended after sealing)');
      if (!entry) {
        resync = true;
        return void issue('altered', line, 'not a valid entry (edited or corrupted)');
      }
      if (canonicalJson(entry) !== text) issue('altered', line, 'not in canonical form: the line was edited');
      if (entry.type === 'checkpoint') {
        sealed = true;
        checkpoints += 1;
        checkCheckpoint(entry, { name, count, firstSeq, firstPrev, lastSeq: expectedSeq - 1, lastHash: expectedPrev }, (m) =>
          issue('checkpoint_mismatch', line, m),
        );
        if (options.publicKey) {
          if (entry.key_id !== expectedKeyId) issue('signature_invalid', line, `checkpoint claims key ${entry.key_id}, expected ${expectedKeyId}`);
          else if (!verifyText(checkpointSignedText(entry), entry.sig, options.publicKey)) issue('signature_invalid', line, 'checkpoint signature does not verify (forged or altered)');
        }
        return;
      }
      if (entryHash(entry as unknown as Record<string, unknown>) !== entry.hash) issue('altered', line, `seq ${entry.seq}: content does not match its hash (record edited)`);
      if (!resync && entry.prev !== expectedPrev) {
        if (entry.seq > expectedSeq) {
          const found = where.get(expectedSeq);
          if (found) issue('reordered', line, `expected seq ${expectedSeq} here, found seq ${entry.seq}; seq ${expectedSeq} is at ${found}`);
          else issue('removed', line, `seq ${expectedSeq}${entry.seq - 1 > expectedSeq ? `..${entry.seq - 1}` : ''} missing before this line`);
        } else if (entry.seq < expectedSeq) {
          issue('reordered', line, `seq ${entry.seq} appears after seq ${expectedSeq - 1} (moved or duplicated)`);
        } else {
          const previous = i > 0 ? `line ${i}` : 'the last entry of the previous segment';
          issue('altered', Math.max(i, 1), `the chain link from ${previous} to line ${line} is broken: ${previous} was altered`);
        }
      } else if (!resync && entry.seq !== expectedSeq) {
        issue('altered', line, `seq ${entry.seq} where ${expectedSeq} was expected (seq field edited)`);
      }
      resync = false;
      expectedPrev = entry.hash;
      expectedSeq = entry.seq + 1;
      count += 1;
      entries += 1;
    });
    if (segment.tornBytes > 0) issue('torn', segment.lines.length + 1, `incomplete final line (${segment.tornBytes} bytes): torn write or truncation`);
    if (!sealed && segmentNumber < segments.length - 1) issue('unsealed', 0, 'no checkpoint although a later segment exists: truncated or checkpoint removed');
  });

  return {
    ok: issues.length === 0,
    segments: segments.length,
    entries,
    checkpoints,
    signaturesChecked: options.publicKey !== undefined,
    issues,
  };
}

interface Expected {
  name: string;
  count: number;
  firstSeq: number;
  firstPrev: string;
  lastSeq: number;
  lastHash: string;
}

function checkCheckpoint(cp: CheckpointEntry, want: Expected, report: (message: string) => void): void {
  if (cp.segment !== want.name) report(`checkpoint names segment ${cp.segment} (file renamed or moved)`);
  if (cp.count !== want.count) report(`checkpoint counts ${cp.count} entries, segment has ${want.count}`);
  if (cp.first_seq !== want.firstSeq || cp.last_seq !== want.lastSeq) {
    report(`checkpoint covers seq ${cp.first_seq}..${cp.last_seq}, segment holds ${want.firstSeq}..${want.lastSeq}`);
  }
  if (cp.first_prev !== want.firstPrev) report('checkpoint first_prev does not match the previous segment');
  if (cp.last_hash !== want.lastHash) report('checkpoint last_hash does not match the last entry');
}
