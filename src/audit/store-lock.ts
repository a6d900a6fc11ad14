// One writer per store directory: two writers would fork the hash chain. A pid file, stale when its pid is gone.

import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface StoreLock {
  release(): Promise<void>;
}

export async function lockStore(dir: string): Promise<StoreLock> {
  const path = join(dir, '.writer.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => unlink(path).catch(() => undefined) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`audit store ${dir} is locked by running process ${pid}`);
      }
      await unlink(path).catch(() => undefined); // stale: its writer died (crash or SIGKILL)
    }
  }
  throw new Error(`audit store ${dir}: could not take the writer lock`);
}
