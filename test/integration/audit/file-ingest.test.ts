// Following Envoy's JSON access-log file through rotation, truncation, restarts and a crash between store and bookmark.

import { appendFile, copyFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChainStore } from '../../../src/audit/chain-store.js';
import { FileIngester, type IngestEvent } from '../../../src/audit/file-ingester.js';
import { lastFileCursor, readRecords } from '../../../src/audit/store-scan.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { runCli } from '../../helpers/audit/cli.js';
import { TEST_HASH_KEY, tempStore, testPrivacy, type TempStore } from '../../helpers/audit/fixtures.js';

let n = 0;
/** One line exactly as the Envoy config's json_format writes it. */
function envoyLine(): string {
  n += 1;
  return `${JSON.stringify({
    start_time: new Date(Date.UTC(2025, 2, 1, 10, 0, n)).toISOString(),
    request_id: `line-${n}`,
    method: 'POST',
    path: '/v1/models/m:generate',
    authority: 'models.example',
    protocol: 'HTTP/1.1',
    response_code: 200,
    response_flags: '-',
    response_code_details: 'via_upstream',
    duration_ms: 12,
    bytes_received: 100,
    bytes_sent: 200,
    upstream_host: '10.0.0.2:8080',
    downstream_peer_uri_san: null,
    downstream_peer_dns_san: null,
    downstream_peer_subject: null,
    downstream_remote_address: '192.0.2.1:5555',
    ext_authz: { decision: 'allow', subject: 'svc:a', model: 'm', action: 'generate', request_id: `line-${n}`, ext_authz_duration: 1 },
  })}\n`;
}
const lines = (count: number) => Array.from({ length: count }, envoyLine).join('');

let fx: TempStore;
let log: string;
let statePath: string;
beforeEach(async () => {
  fx = await tempStore();
  log = join(fx.root, 'access.json');
  statePath = join(fx.root, 'ingest.state');
  n = 0;
});
afterEach(() => fx.cleanup());

async function ids(): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readRecords(fx.dir)) out.push(r.request_id);
  return out;
}

const expected = (count: number) => Array.from({ length: count }, (_, i) => `line-${i + 1}`);

async function session(events: IngestEvent[] = []) {
  const store = await ChainStore.open({ dir: fx.dir, signingKey: fx.key, batchMaxDelayMs: 1 });
  const storeCursor = await lastFileCursor(fx.dir, { kind: 'envoy_file', id: log });
  const ingester = new FileIngester({ path: log, statePath, sink: store, privacy: testPrivacy(), ...(storeCursor ? { storeCursor } : {}), onEvent: (e) => events.push(e), maxBatchBytes: 4096 });
  await ingester.start();
  return {
    poll: () => ingester.pollOnce(),
    close: async () => {
      await ingester.stop();
      await store.close();
    },
  };
}

describe('file ingester', () => {
  it('handles partial lines, rotation while Envoy still writes the old file, truncation and restarts, exactly once', async () => {
    const events: IngestEvent[] = [];
    await writeFile(log, lines(100));
    let s = await session(events);
    expect(await s.poll()).toBe(100);

    // A line Envoy has only half written waits for its newline.
    const twenty = lines(20);
    const next = envoyLine();
    await appendFile(log, twenty + next.slice(0, 30));
    expect(await s.poll()).toBe(20);
    await appendFile(log, next.slice(30));
    expect(await s.poll()).toBe(1);

    // Rotation: rename, Envoy keeps writing the old inode until it reopens, then a new file.
    await rename(log, `${log}.1`);
    await appendFile(`${log}.1`, lines(10));
    expect(await s.poll()).toBe(10); // path gone: keep reading the old file
    await appendFile(`${log}.1`, lines(5));
    await writeFile(log, lines(20));
    expect(await s.poll()).toBe(25);
    expect(events.some((e) => e.kind === 'rotated')).toBe(true);

    // Restart, with a rotation and more lines while we were down.
    await s.close();
    await appendFile(log, lines(7));
    await rename(log, `${log}.2`);
    await writeFile(log, lines(6));
    s = await session(events);
    expect(await s.poll()).toBe(13);

    // copytruncate: the file shrinks under us and fills again.
    await truncate(log, 0);
    await appendFile(log, lines(3));
    expect(await s.poll()).toBe(3);
    expect(events.some((e) => e.kind === 'truncated')).toBe(true);
    await s.close();

    expect(await ids()).toEqual(expected(n));
    expect((await verifyStore(fx.dir, { publicKey: fx.key.publicKey })).ok).toBe(true);
  });

  it('does not duplicate when it died after the store fsync but before the bookmark was saved', async () => {
    await writeFile(log, lines(40));
    let s = await session();
    expect(await s.poll()).toBe(40);
    await copyFile(statePath, `${statePath}.old`); // the bookmark as it was before the next batch
    await appendFile(log, lines(25));
    expect(await s.poll()).toBe(25);
    await s.close();
    await rename(`${statePath}.old`, statePath); // as if the crash hit between fsync and rename
    await appendFile(log, lines(5));
    s = await session();
    expect(await s.poll()).toBe(5);
    await s.close();
    expect(await ids()).toEqual(expected(70));
  });

  it('skips lines that are not access-log entries, and reports them', async () => {
    const events: IngestEvent[] = [];
    await writeFile(log, `${lines(2)}garbage\n${lines(2)}`);
    const s = await session(events);
    expect(await s.poll()).toBe(4);
    await s.close();
    expect(events.filter((e) => e.kind === 'bad_line')).toMatchObject([{ kind: 'bad_line', error: 'not JSON' }]);
  });

  it('works from the CLI across separate processes (`audit ingest --once`)', async () => {
    await writeFile(log, lines(30));
    const args = ['audit', 'ingest', '--once', '--file', log, '--dir', fx.dir, '--key', fx.privateKeyFile];
    const env = { MODELGATE_AUDIT_HASH_KEY: TEST_HASH_KEY };
    const first = await runCli(args, env);
    expect(first.stdout).toBe('ingested 30 records\n');
    await appendFile(log, lines(12));
    const second = await runCli(args, env);
    expect(second.stdout).toBe('ingested 12 records\n');
    expect(await ids()).toEqual(expected(42));
    const noKey = await runCli(args, { MODELGATE_AUDIT_HASH_KEY: '' });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/a hash key of at least 16 bytes is required/);
    const verified = await runCli(['audit', 'verify', fx.dir, '--public-key', fx.publicKeyFile]);
    expect(verified.stdout).toMatch(/^OK: 2 segments, 42 chained entries, 2 checkpoints; signatures verified/);
  });
});
