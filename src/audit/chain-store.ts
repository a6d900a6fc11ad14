// The tamper-evident store: batches records into hash-chained JSON Lines segments, fsyncs, seals with signatures.

import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { chain, entryLine, signCheckpoint, type ChainedEntry } from './chain-entry.js';
import { syncDir } from './dir-sync.js';
import type { AuditRecord } from './record.js';
import { listSegments, segmentName, type SegmentFile } from './segment-files.js';
import type { SigningKey } from './signing.js';
import type { AppendResult, AuditSink } from './sink.js';
import { lockStore, type StoreLock } from './store-lock.js';
import { findStoreTip, type StoreTip, type Tip } from './store-tip.js';

export interface ChainStoreOptions {
  readonly dir: string;
  readonly signingKey: SigningKey;
  /** Epoch milliseconds; injected so rotation and checkpoint times are testable. */
  readonly clock?: () => number;
  readonly segmentMaxBytes?: number;
  readonly segmentMaxAgeMs?: number;
  readonly batchMaxRecords?: number;
  readonly batchMaxDelayMs?: number;
  /** Called after each durable batch (for the Redis stream); never awaited, errors are the callee's. */
  readonly onDurable?: (entries: readonly ChainedEntry[]) => void;
}

interface ActiveSegment {
  readonly file: SegmentFile;
  handle: FileHandle;
  bytes: number;
  count: number;
  firstSeq: number;
  firstPrev: string;
}

interface Waiter {
  readonly records: readonly AuditRecord[];
  resolve(result: AppendResult): void;
  reject(error: Error): void;
}

export class ChainStore implements AuditSink {
  private tip: Tip;
  private active: ActiveSegment | undefined;
  private nextIndex: number;
  private pending: Waiter[] = [];
  private pendingCount = 0;
  private recovery: StoreTip['recovery'];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly ageTimer: NodeJS.Timeout;
  private broken: Error | undefined;
  private closed = false;
  private readonly clock: () => number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly batchMax: number;
  private readonly batchDelay: number;

  /** What the last start found and repaired (a torn line cut off), for the caller's log. */
  readonly recovered: StoreTip['recovery'];

  private constructor(
    private readonly options: ChainStoreOptions,
    private readonly lock: StoreLock,
    start: StoreTip,
    active: ActiveSegment | undefined,
  ) {
    this.clock = options.clock ?? Date.now;
    this.maxBytes = options.segmentMaxBytes ?? 64 * 1024 * 1024;
    this.maxAgeMs = options.segmentMaxAgeMs ?? 3_600_000;
    this.batchMax = options.batchMaxRecords ?? 512;
    this.batchDelay = options.batchMaxDelayMs ?? 200;
    this.tip = start.tip;
    this.nextIndex = start.nextIndex;
    this.recovery = start.recovery;
    this.recovered = start.recovery;
    this.active = active;
    // Seals an idle segment once it is old enough, so an unsigned tail never outlives max age by much.
    this.ageTimer = setInterval(() => void this.sealIfOld(), Math.min(this.maxAgeMs, 30_000)).unref();
  }

  /** Takes the writer lock, repairs a torn tail, and continues the chain where it stopped. */
  static async open(options: ChainStoreOptions): Promise<ChainStore> {
    await mkdir(options.dir, { recursive: true });
    const lock = await lockStore(options.dir);
    try {
      const start = await findStoreTip(await listSegments(options.dir));
      const active = start.open
        ? { ...start.open, handle: await open(start.open.file.path, 'a') }
        : undefined;
      const store = new ChainStore(options, lock, start, active);
      if (start.recovery) await store.flush(); // the cut goes on the record before anything else
      return store;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  get lastSeq(): number {
    return this.tip.seq;
  }

  append(records: readonly AuditRecord[]): Promise<AppendResult> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new Error('audit store is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      this.pendingCount += records.length;
      if (this.pendingCount >= this.batchMax) void this.flush().catch(() => undefined);
      else this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), this.batchDelay);
    });
  }

  /** Writes and fsyncs everything pending; resolves when it is durable. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeBatch());
    return this.writing;
  }

  /** Flushes, seals the active segment with a checkpoint, and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.ageTimer);
    await this.flush().catch(() => undefined);
    this.closed = true;
    this.writing = this.writing.then(() => this.seal());
    await this.writing.finally(() => this.lock.release());
  }

  private async writeBatch(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.broken) throw this.broken;
    const waiters = this.pending;
    this.pending = [];
    this.pendingCount = 0;
    if (waiters.length === 0 && !this.recovery) return;
    try {
      const segment = this.active ?? (await this.startSegment());
      const entries: ChainedEntry[] = [];
      if (this.recovery) entries.push(this.link({ ...this.recovery, time: new Date(this.clock()).toISOString() }));
      for (const waiter of waiters) for (const record of waiter.records) entries.push(this.link({ type: 'record', record }));
      const bytes = Buffer.from(entries.map(entryLine).join(''), 'utf8');
      await writeAll(segment.handle, bytes);
      await segment.handle.datasync();
      this.recovery = undefined;
      segment.bytes += bytes.length;
      segment.count += entries.length;
      for (const waiter of waiters) waiter.resolve({ lastSeq: this.tip.seq });
      this.notify(entries);
      if (segment.bytes >= this.maxBytes || this.clock() - segment.file.openedAt >= this.maxAgeMs) await this.seal();
    } catch (error) {
      // The in-memory tip may now be ahead of the disk: refuse further writes; a restart repairs.
      this.broken = error instanceof Error ? error : new Error(String(error));
      for (const waiter of waiters) waiter.reject(this.broken);
      throw this.broken;
    }
  }

  private link(body: Parameters<typeof chain>[0]): ChainedEntry {
    const entry = chain(body, this.tip.seq + 1, this.tip.hash);
    this.tip = { seq: entry.seq, hash: entry.hash };
    return entry;
  }

  private notify(entries: readonly ChainedEntry[]): void {
    try {
      this.options.onDurable?.(entries);
    } catch {
      // a sink listener must not break the store; it reports its own failures
    }
  }

  private async startSegment(): Promise<ActiveSegment> {
    const openedAt = this.clock();
    const name = segmentName(this.nextIndex, openedAt);
    const file: SegmentFile = { index: this.nextIndex, name, path: join(this.options.dir, name), openedAt };
    const handle = await open(file.path, 'wx', 0o644);
    await syncDir(this.options.dir); // the new name must survive a crash as well as its bytes
    this.nextIndex += 1;
    this.active = { file, handle, bytes: 0, count: 0, firstSeq: this.tip.seq + 1, firstPrev: this.tip.hash };
    return this.active;
  }

  private async seal(): Promise<void> {
    const segment = this.active;
    if (!segment) return;
    if (segment.count > 0) {
      const checkpoint = signCheckpoint(
        {
          segment: segment.file.name,
          time: new Date(this.clock()).toISOString(),
          count: segment.count,
          first_seq: segment.firstSeq,
          last_seq: this.tip.seq,
          first_prev: segment.firstPrev,
          last_hash: this.tip.hash,
          key_id: this.options.signingKey.keyId,
        },
        this.options.signingKey.privateKey,
      );
      await writeAll(segment.handle, Buffer.from(entryLine(checkpoint), 'utf8'));
      await segment.handle.datasync();
      this.nextIndex = Math.max(this.nextIndex, segment.file.index + 1);
    }
    await segment.handle.close();
    this.active = undefined;
  }

  private async sealIfOld(): Promise<void> {
    const segment = this.active;
    if (!segment || segment.count === 0 || this.closed) return;
    if (this.clock() - segment.file.openedAt < this.maxAgeMs) return;
    this.writing = this.writing.then(() => (this.active === segment ? this.seal() : undefined));
    await this.writing.catch(() => undefined);
  }
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}
