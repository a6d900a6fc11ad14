// The logger's batched destination: one write per turn, order kept, bounded, nothing lost at exit.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { batchedDestination, type LineSink } from '../../../src/log/batched-destination.js';
import { createLogger, isoTimeCachedPerMs } from '../../../src/log/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const turn = () => new Promise<void>((done) => setImmediate(() => setImmediate(done)));

function recordingSink(): LineSink & { writes: string[] } {
  const writes: string[] = [];
  return { writes, write: (chunk: string) => writes.push(chunk) };
}

describe('batchedDestination', () => {
  it('hands the lines of one turn to the sink as one write, in order, after the turn', async () => {
    const sink = recordingSink();
    const dest = batchedDestination(sink);
    dest.write('a\n');
    dest.write('b\n');
    dest.write('c\n');
    expect(sink.writes).toEqual([]);
    await turn();
    expect(sink.writes).toEqual(['a\nb\nc\n']);
    dest.write('d\n');
    await turn();
    expect(sink.writes).toEqual(['a\nb\nc\n', 'd\n']);
    dest.end();
  });

  it('hands over early once the pending characters reach the bound', () => {
    const sink = recordingSink();
    const dest = batchedDestination(sink, { maxPendingChars: 10 });
    dest.write('12345\n');
    expect(sink.writes).toEqual([]);
    dest.write('67890\n');
    expect(sink.writes).toEqual(['12345\n67890\n']);
    dest.end();
  });

  it('flushSync writes pending lines through a real sonic-boom file at once', () => {
    const file = join(dir, 'sync.log');
    const sonic = pino.destination({ dest: file, sync: false, mkdir: true });
    const logger = pino({ base: null, timestamp: false }, batchedDestination(sonic));
    // sonic-boom opens its file asynchronously; flushSync needs the fd.
    return new Promise<void>((done) => sonic.once('ready', () => done())).then(() => {
      logger.info({ n: 1 }, 'one');
      logger.info({ n: 2 }, 'two');
      ((logger as unknown as Record<symbol, { flushSync(): void }>)[pino.symbols.streamSym])!.flushSync();
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.msg)).toEqual(['one', 'two']);
    });
  });

  it('a sink that throws loses the lines but never throws into the event loop', async () => {
    const dest = batchedDestination({
      write: () => {
        throw new Error('SonicBoom destroyed');
      },
    });
    dest.write('lost\n');
    await turn();
    expect(() => dest.flushSync()).not.toThrow();
    dest.end();
  });

  it('lines logged right before process.exit reach stdout (the default destination)', () => {
    const script = join(dir, 'exit.mts');
    const logger = resolve('src/log/logger.ts');
    writeFileSync(
      script,
      `import { createLogger } from ${JSON.stringify(logger)};\n` +
        `const log = createLogger({ level: 'info' });\n` +
        `for (let i = 0; i < 3; i++) log.info({ i }, 'before exit');\n` +
        `process.exit(0);\n`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.i)).toEqual([0, 1, 2]);
    expect(lines[0]).toMatchObject({ level: 'info', service: 'modelgate', msg: 'before exit' });
  });
});

describe('isoTimeCachedPerMs', () => {
  it("has pino's isoTime shape and the current time", () => {
    const before = Date.now();
    const stamp = isoTimeCachedPerMs();
    const after = Date.now();
    const m = /^,"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"$/.exec(stamp);
    expect(m, stamp).not.toBeNull();
    const t = Date.parse(m![1]!);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
    expect(pino.stdTimeFunctions.isoTime().length).toBe(stamp.length);
  });

  it('moves with the clock', async () => {
    const first = isoTimeCachedPerMs();
    await new Promise((r) => setTimeout(r, 5));
    expect(isoTimeCachedPerMs()).not.toBe(first);
  });

  it('a logger line carries it', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => lines.push(s) } });
    logger.info('x');
    expect(Date.parse(JSON.parse(lines[0]!).time)).toBeGreaterThan(Date.now() - 5_000);
  });
});
