// Tampering with a sealed store: each kind of edit makes `modelgate audit verify` fail and name the place.

import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, entryHash } from '../../../src/audit/canonical.js';
import { ChainStore } from '../../../src/audit/chain-store.js';
import { signCheckpoint, type CheckpointEntry } from '../../../src/audit/chain-entry.js';
import { listSegments } from '../../../src/audit/segment-files.js';
import { runCli } from '../../helpers/audit/cli.js';
import { tempStore, type TempStore } from '../../helpers/audit/fixtures.js';
import { makeRecord } from '../../helpers/audit/traffic.js';

let fx: TempStore;
let names: string[];
let copies = 0;

beforeAll(async () => {
  fx = await tempStore();
  // ~700-byte records and a 6 KiB limit: several sealed segments of a handful of lines each.
  const store = await ChainStore.open({ dir: fx.dir, signingKey: fx.key, segmentMaxBytes: 6 * 1024, batchMaxRecords: 4, batchMaxDelayMs: 1 });
  for (let i = 0; i < 40; i++) await store.append([makeRecord({ time: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString(), subject: `svc:s${i % 3}` })]);
  await store.close();
  names = (await listSegments(fx.dir)).map((s) => s.name);
}, 60_000);

afterAll(() => fx.cleanup());

/** A fresh copy of the pristine store for one tampering scenario. */
async function copy(): Promise<string> {
  const dir = join(fx.root, `copy-${++copies}`);
  await cp(fx.dir, dir, { recursive: true });
  return dir;
}

async function lines(dir: string, segment: string): Promise<string[]> {
  return (await readFile(join(dir, segment), 'utf8')).split('\n').slice(0, -1);
}

async function write(dir: string, segment: string, content: string[]): Promise<void> {
  await writeFile(join(dir, segment), content.map((l) => `${l}\n`).join(''));
}

const verify = (dir: string) => runCli(['audit', 'verify', dir, '--public-key', fx.publicKeyFile]);

describe('modelgate audit verify', () => {
  it('accepts the untouched store, with signatures checked', async () => {
    expect(names.length).toBeGreaterThanOrEqual(4);
    const r = await verify(fx.dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^OK: \d+ segments, 40 chained entries, \d+ checkpoints; signatures verified/);
  });

  it('catches one edited byte and names the line', async () => {
    const dir = await copy();
    const seg = names[1]!;
    const content = await lines(dir, seg);
    expect(content[2]).toContain('"svc:s');
    content[2] = content[2]!.replace(/"subject":"svc:s(\d)"/, (_m, d: string) => `"subject":"svc:s${(Number(d) + 1) % 10}"`);
    await write(dir, seg, content);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN: ${seg} line 3: \\[altered\\]`));
  });

  it('catches an edit whose hash was recomputed, at the edited line', async () => {
    const dir = await copy();
    const seg = names[1]!;
    const content = await lines(dir, seg);
    const entry = JSON.parse(content[1]!) as Record<string, unknown> & { record: { response_code: number } };
    entry.record.response_code = 500;
    entry.hash = entryHash(entry);
    content[1] = canonicalJson(entry);
    await write(dir, seg, content);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN: ${seg} line 2: \\[altered\\] the chain link from line 2 to line 3 is broken`));
  });

  it('catches a deleted line', async () => {
    const dir = await copy();
    const seg = names[2]!;
    const content = await lines(dir, seg);
    const removed = JSON.parse(content[2]!) as { seq: number };
    content.splice(2, 1);
    await write(dir, seg, content);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN: ${seg} line 3: \\[removed\\] seq ${removed.seq} missing`));
  });

  it('catches two swapped lines', async () => {
    const dir = await copy();
    const seg = names[0]!;
    const content = await lines(dir, seg);
    [content[1], content[2]] = [content[2]!, content[1]!];
    await write(dir, seg, content);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN: ${seg} line 2: \\[reordered\\]`));
  });

  it('catches a truncated segment', async () => {
    const dir = await copy();
    const seg = names[1]!;
    const size = (await readFile(join(dir, seg))).length;
    await truncate(join(dir, seg), Math.floor(size / 2));
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN: ${seg} line \\d+: \\[torn\\]`));
    expect(r.stdout).toContain(`${seg} line 0: [unsealed]`);
  });

  it('catches a checkpoint forged with another key after dropping records', async () => {
    const dir = await copy();
    const seg = names[1]!;
    const content = await lines(dir, seg);
    const cp = JSON.parse(content.at(-1)!) as CheckpointEntry;
    const kept = content.slice(0, -2); // drop the last record, re-seal so counts and hashes match
    const last = JSON.parse(kept.at(-1)!) as { seq: number; hash: string };
    const { privateKey } = generateKeyPairSync('ed25519');
    const { type: _t, sig: _s, ...body } = { ...cp, count: cp.count - 1, last_seq: last.seq, last_hash: last.hash };
    kept.push(canonicalJson(signCheckpoint(body, privateKey)));
    await write(dir, seg, kept);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN: ${seg} line ${kept.length}: \\[signature_invalid\\] checkpoint signature does not verify`));
  });

  it('catches an edited checkpoint and a removed segment', async () => {
    const dir = await copy();
    const content = await lines(dir, names[0]!);
    content[content.length - 1] = content.at(-1)!.replace(/"count":(\d+)/, (_m, n: string) => `"count":${Number(n) + 1}`);
    await write(dir, names[0]!, content);
    await rm(join(dir, names[2]!));
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN: ${names[0]} line ${content.length}: \\[checkpoint_mismatch\\]`));
    expect(r.stdout).toContain(`${names[3]} line 0: [missing_segment]`);
  });
});
