// `serve --workers 2` with an audit section: the store has one writer, the primary. Access-log
// streams land on either worker (the receiver port is shared round-robin) and every record reaches the one
// chain, which verifies after SIGTERM; before, the second worker failed on the store's writer lock.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecords } from '../../../src/audit/store-scan.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { freePort, startServe } from '../../helpers/serve-process.js';
import { batches, goodEntry, streamMessages } from '../../helpers/audit/als-client.js';
import { serveWithAuditYaml } from '../../helpers/audit/fixtures.js';

describe('serve --workers 2 with audit', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-workers-audit-'));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'hash.key'), 'workers-audit-hash-key-0123456789');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every stream from every worker into one verified chain', async () => {
    const store = join(dir, 'store');
    const alsPort = await freePort(); // the receiver's own listener, shared by the workers like the Check port
    writeFileSync(
      join(dir, 'serve.yaml'),
      serveWithAuditYaml({ store, signingKeyFile: join(dir, 'audit.key'), hashKeyFile: join(dir, 'hash.key'), receiver: `{ listen: '127.0.0.1:${alsPort}' }` }),
    );
    const port = await freePort(); // workers sharing port 0 would not share one port
    const serve = await startServe(['--workers', '2', '--config', join(dir, 'serve.yaml'), '--address', `127.0.0.1:${port}`], 2);
    try {
      // Eight streams, each its own connection, handed to the workers round-robin.
      const ids = Array.from({ length: 8 }, (_, s) => Array.from({ length: 5 }, (_, i) => `s${s}-r${i}`));
      const statuses = await Promise.all(ids.map((stream) => streamMessages(alsPort, batches(stream.map((id) => goodEntry(id))))));
      expect(statuses.map((s) => s?.code ?? 0)).toEqual(Array(8).fill(0));
      expect(serve.lines.filter((l) => l.msg === 'modelgate serving ext_authz')).toHaveLength(2);
      const exited = new Promise((resolve) => serve.proc.once('exit', resolve));
      serve.proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      const stored: string[] = [];
      for await (const r of readRecords(store)) stored.push(r.request_id);
      expect(stored.sort()).toEqual(ids.flat().sort());
      expect(await verifyStore(store)).toMatchObject({ ok: true, issues: [] });
    } finally {
      serve.proc.kill('SIGKILL');
    }
  });
});
