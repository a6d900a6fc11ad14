// Crash safety: a writer SIGKILLed mid-batch again and again never corrupts earlier records; the chain continues.

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SegmentEntry } from '../../../src/audit/chain-entry.js';
import { listSegments } from '../../../src/audit/segment-files.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { REPO, runCli } from '../../helpers/audit/cli.js';
import { tempStore, type TempStore } from '../../helpers/audit/fixtures.js';
import { rng } from '../../helpers/audit/traffic.js';

const ROUNDS = 20;
let fx: TempStore;

beforeAll(async () => {
  fx = await tempStore();
});
afterAll(() => fx.cleanup());

function startWriter(): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/audit/crash-writer.ts', fx.dir, fx.privateKeyFile], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code, signal) => reject(new Error(`writer exited before ready: ${code ?? signal}`)));
  });
  return { child, ready };
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

async function entries(): Promise<SegmentEntry[]> {
  const out: SegmentEntry[] = [];
  for (const s of await listSegments(fx.dir)) {
    const text = await readFile(s.path, 'utf8');
    for (const line of text.split('\n')) if (line.startsWith('{') && line.endsWith('}')) out.push(JSON.parse(line) as SegmentEntry);
  }
  return out;
}

describe('chain store under SIGKILL', () => {
  it(`survives ${ROUNDS} kills mid-batch: earlier records stay intact and the chain continues`, async () => {
    const random = rng(42);
    let tornSeen = 0;
    let previousSeq = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { child, ready } = startWriter();
      const line = await ready;
      const [, seq, state] = line.split(' ');
      // The restarted writer continues exactly at the durable tip left by the previous kill.
      expect(Number(seq)).toBeGreaterThanOrEqual(previousSeq);
      if (round > 0 && state === 'recovered') expect(Number(seq)).toBeGreaterThan(previousSeq);
      await new Promise((r) => setTimeout(r, 30 + Math.floor(random() * 150)));
      child.kill('SIGKILL');
      await exited(child);
      // Whatever a kill leaves, everything before the final line is intact.
      const report = await verifyStore(fx.dir, { publicKey: fx.key.publicKey });
      const broken = report.issues.filter((i) => i.kind !== 'torn');
      expect(broken).toEqual([]);
      const torn = report.issues.filter((i) => i.kind === 'torn');
      expect(torn.length).toBeLessThanOrEqual(1);
      if (torn.length === 1) {
        tornSeen += 1;
        expect(torn[0]!.segment).toBe((await listSegments(fx.dir)).at(-1)!.name);
      }
      previousSeq = report.entries;
    }
    // Make sure the repair path runs at least once, whatever the kills happened to hit: a torn half line.
    const lastSegment = (await listSegments(fx.dir)).at(-1)!;
    await appendFile(lastSegment.path, '{"type":"record","seq":');
    tornSeen += 1;
    // A last clean run repairs the tail, writes on, and seals on SIGTERM.
    const { child, ready } = startWriter();
    await ready;
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    await exited(child);
    expect(child.exitCode).toBe(0);

    const all = await entries();
    const chained = all.filter((e) => e.type !== 'checkpoint');
    expect(chained.map((e) => e.seq)).toEqual(chained.map((_, i) => i + 1));
    const recoveries = chained.filter((e) => e.type === 'recovery');
    console.info(`crash test: ${tornSeen} torn tails repaired over ${ROUNDS} kills`);
    expect(recoveries.length).toBe(tornSeen); // every cut is on the record
    expect(chained.length).toBeGreaterThan(previousSeq);

    const cli = await runCli(['audit', 'verify', fx.dir, '--public-key', fx.publicKeyFile]);
    expect(cli.stdout).toMatch(/^OK: /);
    expect(cli.code).toBe(0);
  }, 90_000);
});
