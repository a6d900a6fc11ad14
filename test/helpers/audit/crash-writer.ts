// Child process for the crash test: appends big batches forever until SIGKILLed (or sealed on SIGTERM).
// Usage: node --import tsx crash-writer.ts STORE_DIR PRIVATE_KEY_FILE

import { ChainStore } from '../../../src/audit/chain-store.js';
import { loadSigningKey } from '../../../src/audit/signing.js';
import { makeRecord } from './traffic.js';

const [dir, keyFile] = process.argv.slice(2);
const key = await loadSigningKey(keyFile!);
if (!key.ok) throw new Error(key.error);
const store = await ChainStore.open({ dir: dir!, signingKey: key.key, segmentMaxBytes: 300_000, batchMaxRecords: 300, batchMaxDelayMs: 2 });
let stopping = false;
process.once('SIGTERM', () => {
  stopping = true;
});
process.stdout.write(`ready ${store.lastSeq} ${store.recovered ? 'recovered' : 'clean'}\n`);
let n = 0;
while (!stopping) {
  // ~300 records of ~700 bytes: each batch is one ~200 KB write, so a kill often lands inside it.
  const batch = Array.from({ length: 300 }, () => makeRecord({ time: new Date(Date.UTC(2025, 0, 1) + n++ * 1000).toISOString(), subject: `svc:w${n % 7}` }));
  await store.append(batch);
}
await store.close();
process.stdout.write('sealed\n');
