// SIGKILLs an audit writer while it is inside a batch write: a worker thread samples the newest
// segment's size and last byte every ~0.2 ms, and kills the moment the file ends mid-line.
// Linux grows a file page by page while one large write() is being copied, so a big batch leaves
// a window of a millisecond or more where the file ends inside a line; a SIGKILL then stops the
// copy there and leaves the torn final line a crash mid-batch leaves.

import { Worker } from 'node:worker_threads';

export interface MidWriteKill {
  readonly killed: boolean;
  readonly segment?: string;
  /** The segment's size when the kill was sent, and its size at the previous sample. */
  readonly sizeAtKill?: number;
  readonly sizeBefore?: number;
  readonly samples: number;
}

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { dir, pid, maxMs } = workerData;
const SEGMENT = /^audit-\\d{8}-\\d{8}T\\d{6}Z\\.jsonl$/;
const end = Date.now() + maxMs;
const byte = Buffer.alloc(1);
const nap = new Int32Array(new SharedArrayBuffer(4));
let name, path, last = -1, samples = 0;
const newest = () => fs.readdirSync(dir).filter((n) => SEGMENT.test(n)).sort().at(-1);
for (;;) {
  if (Date.now() > end) { parentPort.postMessage({ killed: false, samples }); break; }
  if (samples % 64 === 0 || !name) {
    const n = newest();
    if (n !== name) { name = n; path = n && dir + '/' + n; last = -1; }
  }
  samples++;
  // ~0.2 ms between samples: a batch write of megabytes stays mid-line for longer, and the machine
  // keeps a core for the writer.
  Atomics.wait(nap, 0, 0, 0.2);
  if (!path) continue;
  let size;
  try { size = fs.statSync(path).size; } catch { name = undefined; continue; }
  if (last >= 0 && size > last) {
    const fd = fs.openSync(path, 'r');
    fs.readSync(fd, byte, 0, 1, size - 1);
    fs.closeSync(fd);
    if (byte[0] !== 10) {
      process.kill(pid, 'SIGKILL');
      parentPort.postMessage({ killed: true, segment: name, sizeAtKill: size, sizeBefore: last, samples });
      break;
    }
  }
  last = size;
}
`;

/** Resolves once the writer `pid` was killed mid-write, or after `maxMs` without a chance (killed: false). */
export function killDuringWrite(options: { dir: string; pid: number; maxMs: number }): Promise<MidWriteKill> {
  const worker = new Worker(WORKER, { eval: true, workerData: options });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: MidWriteKill) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
