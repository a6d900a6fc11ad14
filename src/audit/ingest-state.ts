// The file ingester's bookmark: which file (dev:inode) and byte offset, written atomically so a crash leaves old or new.

import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from './dir-sync.js';

export interface IngestState {
  readonly path: string;
  /** `<dev>:<inode>` of the file the offset belongs to. */
  readonly file: string;
  readonly offset: number;
  /** The store's last seq when this was saved: a store record of this source with a higher seq is newer. */
  readonly store_seq: number;
}

export async function readIngestState(file: string): Promise<IngestState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<IngestState>;
  if (typeof parsed.file !== 'string' || typeof parsed.offset !== 'number' || typeof parsed.path !== 'string') {
    throw new Error(`${file}: not an ingest state file`);
  }
  return { path: parsed.path, file: parsed.file, offset: parsed.offset, store_seq: parsed.store_seq ?? 0 };
}

/** Write to a temp file, fsync, rename over, fsync the directory: the rename is the commit. */
export async function writeIngestState(file: string, state: IngestState): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(state)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDir(dirname(file));
}
