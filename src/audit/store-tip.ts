// Finds where the chain stands when a writer starts, cutting off a torn final line a crash left behind.

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { GENESIS_HASH } from './canonical.js';
import type { ChainedEntry, RecoveryEntry, SegmentEntry } from './chain-entry.js';
import { readSegment, type SegmentFile } from './segment-files.js';

export interface Tip {
  readonly seq: number;
  readonly hash: string;
}

export interface OpenSegmentState {
  readonly file: SegmentFile;
  readonly bytes: number;
  readonly count: number;
  readonly firstSeq: number;
  readonly firstPrev: string;
}

export interface StoreTip {
  readonly tip: Tip;
  /** The last segment when it has no checkpoint yet: the writer continues it. */
  readonly open?: OpenSegmentState;
  readonly nextIndex: number;
  /** Set when a torn line was cut off; the writer appends it to the chain as a recovery entry. */
  readonly recovery?: Omit<RecoveryEntry, 'seq' | 'prev' | 'hash' | 'time'>;
}

function parseLines(file: SegmentFile, lines: readonly string[]): SegmentEntry[] {
  return lines.map((line, i) => {
    try {
      return JSON.parse(line) as SegmentEntry;
    } catch {
      // A writer only ever appends whole lines, so a bad complete line is damage, not a crash.
      throw new Error(`${file.name} line ${i + 1} is not valid JSON: refusing to extend a damaged chain (run \`modelgate audit verify\`)`);
    }
  });
}

const chained = (entries: readonly SegmentEntry[]): ChainedEntry[] =>
  entries.filter((e): e is ChainedEntry => e.type !== 'checkpoint');

async function cutTornTail(file: SegmentFile, goodBytes: number): Promise<void> {
  const handle = await open(file.path, 'r+');
  try {
    await handle.truncate(goodBytes);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export async function findStoreTip(segments: readonly SegmentFile[]): Promise<StoreTip> {
  const last = segments.at(-1);
  if (!last) return { tip: { seq: 0, hash: GENESIS_HASH }, nextIndex: 1 };
  const split = await readSegment(last.path);
  let recovery: StoreTip['recovery'];
  if (split.torn.length > 0) {
    await cutTornTail(last, split.goodBytes);
    recovery = {
      type: 'recovery',
      segment: last.name,
      line: split.lines.length + 1,
      cut_bytes: split.torn.length,
      cut_sha256: createHash('sha256').update(split.torn).digest('hex'),
    };
  }
  const entries = parseLines(last, split.lines);
  const own = chained(entries);
  let tip: Tip | undefined = own.length > 0 ? { seq: own.at(-1)!.seq, hash: own.at(-1)!.hash } : undefined;
  for (let i = segments.length - 2; !tip && i >= 0; i--) {
    const earlier = chained(parseLines(segments[i]!, (await readSegment(segments[i]!.path)).lines));
    if (earlier.length > 0) tip = { seq: earlier.at(-1)!.seq, hash: earlier.at(-1)!.hash };
  }
  tip ??= { seq: 0, hash: GENESIS_HASH };
  const closed = entries.at(-1)?.type === 'checkpoint';
  const base = { tip, ...(recovery ? { recovery } : {}) };
  if (closed) return { ...base, nextIndex: last.index + 1 };
  return {
    ...base,
    nextIndex: last.index + 1,
    open: {
      file: last,
      bytes: split.goodBytes,
      count: own.length,
      firstSeq: own[0]?.seq ?? tip.seq + 1,
      firstPrev: own[0]?.prev ?? tip.hash,
    },
  };
}
