// Segment file names and raw reading: which files form the store, in order, and where their lines end.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT_NAME = /^audit-(\d{8})-(\d{8}T\d{6}Z)\.jsonl$/;

export interface SegmentFile {
  readonly index: number;
  readonly name: string;
  readonly path: string;
  /** When the segment was opened (from its name): drives time-based rotation across restarts. */
  readonly openedAt: number;
}

export function segmentName(index: number, openedAt: number): string {
  const stamp = new Date(openedAt).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `audit-${String(index).padStart(8, '0')}-${stamp}.jsonl`;
}

function parseStamp(stamp: string): number {
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
  return Date.parse(iso);
}

export async function listSegments(dir: string): Promise<SegmentFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const segments: SegmentFile[] = [];
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (match) segments.push({ index: Number(match[1]), name, path: join(dir, name), openedAt: parseStamp(match[2]!) });
  }
  return segments.sort((a, b) => a.index - b.index);
}

export type StoreDir =
  | { readonly ok: true; readonly segments: SegmentFile[] }
  | { readonly ok: false; readonly problem: 'missing' | 'not_a_directory' | 'empty'; readonly message: string };

/**
 * The store's segments, or why there is no trail to read. Readers (verify, report) refuse all
 * three unless told a trail may be empty: a mistyped path must not pass as an untampered trail.
 */
export async function openStoreDir(dir: string): Promise<StoreDir> {
  try {
    if (!(await stat(dir)).isDirectory()) return { ok: false, problem: 'not_a_directory', message: `${dir} is not a directory` };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { ok: false, problem: 'missing', message: `${dir} does not exist` };
  }
  const segments = await listSegments(dir);
  if (segments.length === 0) return { ok: false, problem: 'empty', message: `${dir} holds no audit segments` };
  return { ok: true, segments };
}

export interface SplitLines {
  /** Complete lines, without their newline. */
  readonly lines: string[];
  /** Bytes after the last newline: a torn write (or a truncation) when non-empty. */
  readonly torn: Buffer;
  /** Length in bytes of the complete lines, newlines included. */
  readonly goodBytes: number;
}

export function splitLines(bytes: Buffer): SplitLines {
  const end = bytes.lastIndexOf(0x0a) + 1;
  const body = bytes.subarray(0, end).toString('utf8');
  const lines = end === 0 ? [] : body.slice(0, -1).split('\n');
  return { lines, torn: bytes.subarray(end), goodBytes: end };
}

export async function readSegment(path: string): Promise<SplitLines> {
  return splitLines(await readFile(path));
}
