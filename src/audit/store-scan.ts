// Read-only scans over a store directory: iterate records in chain order, find a source's last cursor.

import type { SegmentEntry } from './chain-entry.js';
import type { AuditRecord, RecordSource } from './record.js';
import { listSegments, readSegment } from './segment-files.js';

function parse(line: string): SegmentEntry | undefined {
  try {
    return JSON.parse(line) as SegmentEntry;
  } catch {
    return undefined; // verify reports damage; scans just skip it
  }
}

/** Every record in chain order. Loads one segment at a time. */
export async function* readRecords(dir: string): AsyncGenerator<AuditRecord> {
  for (const segment of await listSegments(dir)) {
    for (const line of (await readSegment(segment.path)).lines) {
      const entry = parse(line);
      if (entry?.type === 'record') yield entry.record;
    }
  }
}

export interface SourceCursor {
  readonly seq: number;
  readonly file: string;
  readonly offset: number;
}

/** The newest durable record from a file source, scanning from the newest segment backwards. */
export async function lastFileCursor(dir: string, source: Pick<RecordSource, 'kind' | 'id'>): Promise<SourceCursor | undefined> {
  const segments = await listSegments(dir);
  for (let s = segments.length - 1; s >= 0; s--) {
    const lines = (await readSegment(segments[s]!.path)).lines;
    for (let i = lines.length - 1; i >= 0; i--) {
      const entry = parse(lines[i]!);
      if (entry?.type !== 'record') continue;
      const src = entry.record.source;
      if (src.kind === source.kind && src.id === source.id && src.file !== undefined && src.offset !== undefined) {
        return { seq: entry.seq, file: src.file, offset: src.offset };
      }
    }
  }
  return undefined;
}
