// Follows Envoy's JSON access-log file into the audit store: exactly once across rotation, truncation and restarts.

import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Stats } from 'node:fs';
import { readIngestState, writeIngestState, type IngestState } from './ingest-state.js';
import { normalizeFileLine } from './normalize-file.js';
import type { Privacy } from './privacy.js';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';
import type { SourceCursor } from './store-scan.js';

export type IngestEvent =
  | { kind: 'resumed'; file: string; offset: number; from: 'state' | 'store' | 'start' }
  | { kind: 'rotated'; from: string; to: string }
  | { kind: 'truncated'; file: string; offset: number }
  | { kind: 'gap'; file: string; message: string }
  | { kind: 'bad_line'; file: string; offset: number; error: string };

export interface FileIngesterOptions {
  readonly path: string;
  readonly statePath: string;
  readonly sink: AuditSink & { readonly lastSeq: number };
  readonly privacy: Privacy;
  /** The store's newest record from this path (`lastFileCursor`): wins over an older state file. */
  readonly storeCursor?: SourceCursor;
  readonly pollIntervalMs?: number;
  readonly maxBatchBytes?: number;
  readonly onEvent?: (event: IngestEvent) => void;
}

interface Reader {
  readonly handle: FileHandle;
  readonly id: string;
  offset: number;
}

const fileId = (s: Stats): string => `${s.dev}:${s.ino}`;

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  return stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

export class FileIngester {
  private reader: Reader | undefined;
  /** A rotated-away file still to be drained before the current one (found again after a restart). */
  private draining: Reader | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly emit: (event: IngestEvent) => void;

  constructor(private readonly options: FileIngesterOptions) {
    this.emit = options.onEvent ?? (() => undefined);
  }

  /** Picks the newer of state file and store as the bookmark and opens the right file(s). */
  async start(): Promise<void> {
    const state = await readIngestState(this.options.statePath);
    const store = this.options.storeCursor;
    const useStore = store !== undefined && (state === undefined || store.seq > state.store_seq);
    const cursor = useStore ? store : state;
    const current = await statOrUndefined(this.options.path);
    if (!cursor) {
      if (current) this.reader = await this.openReader(this.options.path, current, 0, 'start');
      return;
    }
    if (current && fileId(current) === cursor.file) {
      this.reader = await this.openReader(this.options.path, current, cursor.offset, useStore ? 'store' : 'state');
      return;
    }
    const old = await this.findRotated(cursor.file);
    if (old) this.draining = await this.openReader(old.path, old.stats, cursor.offset, useStore ? 'store' : 'state');
    else this.emit({ kind: 'gap', file: cursor.file, message: `file ${cursor.file} is gone; lines after offset ${cursor.offset} cannot be ingested` });
    if (current) this.reader = await this.openReader(this.options.path, current, 0, 'start');
  }

  /** Ingests everything complete that is available now; returns how many records were stored. */
  async pollOnce(): Promise<number> {
    let stored = 0;
    if (this.draining) {
      stored += await this.drain(this.draining);
      await this.draining.handle.close();
      this.draining = undefined;
    }
    for (let round = 0; round < 4; round++) {
      if (this.reader) stored += await this.drain(this.reader);
      const current = await statOrUndefined(this.options.path);
      if (!current) break; // renamed away, new file not created yet: keep the old one open
      if (!this.reader || fileId(current) !== this.reader.id) {
        const previous = this.reader;
        if (previous) {
          stored += await this.drain(previous); // lines written between our read and the rename
          await previous.handle.close();
          this.emit({ kind: 'rotated', from: previous.id, to: fileId(current) });
        }
        this.reader = await this.openReader(this.options.path, current, 0, 'start');
        await this.save(this.reader, this.options.sink.lastSeq);
        continue;
      }
      if (current.size < this.reader.offset) {
        this.emit({ kind: 'truncated', file: this.reader.id, offset: this.reader.offset });
        this.reader.offset = 0;
        await this.save(this.reader, this.options.sink.lastSeq);
        continue;
      }
      break;
    }
    return stored;
  }

  /** Polls until `stop()`. */
  run(): Promise<void> {
    this.loop ??= (async () => {
      while (!this.stopped) {
        await this.pollOnce();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.options.pollIntervalMs ?? 250);
        });
      }
    })();
    return this.loop;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop?.catch(() => undefined);
    await this.reader?.handle.close();
    await this.draining?.handle.close();
    this.reader = undefined;
    this.draining = undefined;
  }

  private async openReader(path: string, stats: Stats, offset: number, from: 'state' | 'store' | 'start'): Promise<Reader> {
    const handle = await open(path, 'r');
    const id = fileId(await handle.stat()); // the handle's own inode: the path may have moved since stat()
    let start = offset;
    if (id !== fileId(stats) || (await handle.stat()).size < offset) {
      if (offset > 0) this.emit({ kind: 'truncated', file: id, offset });
      start = 0;
    }
    if (from !== 'start' || offset > 0) this.emit({ kind: 'resumed', file: id, offset: start, from });
    return { handle, id, offset: start };
  }

  private async findRotated(id: string): Promise<{ path: string; stats: Stats } | undefined> {
    const dir = dirname(this.options.path);
    const base = basename(this.options.path);
    for (const name of await readdir(dir)) {
      if (!name.startsWith(base) || name === base) continue;
      const stats = await statOrUndefined(join(dir, name));
      if (stats?.isFile() && fileId(stats) === id) return { path: join(dir, name), stats };
    }
    return undefined;
  }

  private async drain(reader: Reader): Promise<number> {
    let stored = 0;
    for (;;) {
      const chunk = await this.readComplete(reader);
      if (!chunk) return stored;
      stored += await this.ingest(reader, chunk);
    }
  }

  /** Complete lines from the reader's offset; a partial last line waits for its newline. */
  private async readComplete(reader: Reader): Promise<Buffer | undefined> {
    let size = this.options.maxBatchBytes ?? 1024 * 1024;
    for (;;) {
      const buffer = Buffer.alloc(size);
      const { bytesRead } = await reader.handle.read(buffer, 0, size, reader.offset);
      if (bytesRead === 0) return undefined;
      const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
      if (end > 0) return buffer.subarray(0, end);
      if (bytesRead < size) return undefined;
      size *= 2; // one line longer than the batch: read more until its newline
    }
  }

  private async ingest(reader: Reader, chunk: Buffer): Promise<number> {
    const records: AuditRecord[] = [];
    let lineStart = 0;
    while (lineStart < chunk.length) {
      const newline = chunk.indexOf(0x0a, lineStart);
      const text = chunk.subarray(lineStart, newline).toString('utf8').trim();
      const end = reader.offset + newline + 1;
      if (text !== '') {
        const source = { kind: 'envoy_file' as const, id: this.options.path, file: reader.id, offset: end };
        const result = normalizeFileLine(text, source, this.options.privacy);
        if (result.ok) records.push(result.record);
        else this.emit({ kind: 'bad_line', file: reader.id, offset: reader.offset + lineStart, error: result.error });
      }
      lineStart = newline + 1;
    }
    const { lastSeq } = records.length > 0 ? await this.options.sink.append(records) : { lastSeq: this.options.sink.lastSeq };
    reader.offset += chunk.length;
    await this.save(reader, lastSeq);
    return records.length;
  }

  private save(reader: Reader, storeSeq: number): Promise<void> {
    const state: IngestState = { path: this.options.path, file: reader.id, offset: reader.offset, store_seq: storeSeq };
    return writeIngestState(this.options.statePath, state);
  }
}
