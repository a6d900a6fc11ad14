// One timer gives up on every call Redis did not answer in time, and nothing else: not a reply
// that sat unread while modelgate's own loop was blocked, not a command written late after a stall.

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deadlines } from '../../../src/ratelimit/deadlines.js';

class Late extends Error {}
const never = () => new Promise<never>(() => {});
const after = <T>(ms: number, value: T) => new Promise<T>((ok) => setTimeout(() => ok(value), ms));
const deadlines = (timeoutMs: number, maxWaitMs?: number) => new Deadlines({ timeoutMs, maxWaitMs, timeoutError: () => new Late('late') });
/** Keeps the event loop busy, as a burst of checks or a GC pause does. */
const block = (ms: number) => {
  for (const end = performance.now() + ms; performance.now() < end; );
};

/** Another process that echoes each write after `delayMs`: a Redis that answers on its own clock. */
async function echoer(delayMs: number): Promise<{ child: ChildProcess; send(text: string): Promise<string> }> {
  const child = spawn(process.execPath, ['-e', `process.stdin.on('data', (d) => setTimeout(() => process.stdout.write(d), ${delayMs}))`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const send = (text: string) =>
    new Promise<string>((ok) => {
      child.stdout!.once('data', (d: Buffer) => ok(d.toString()));
      child.stdin!.write(text);
    });
  await send('ready');
  return { child, send };
}

describe('Deadlines', () => {
  it('passes values and rejections through when they come in time', async () => {
    const d = deadlines(1_000);
    await expect(d.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(d.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(d.race(after(5, 'x'))).resolves.toBe('x');
  });

  it('rejects a call that never settles with the timeout error, not before the timeout', async () => {
    const d = deadlines(30);
    const started = performance.now();
    await expect(d.race(never())).rejects.toBeInstanceOf(Late);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(d.pending).toBe(0);
  });

  it('expires each of many staggered calls, settled ones in between untouched, oldest first', async () => {
    const d = deadlines(40);
    const order: string[] = [];
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      const p = i % 2 === 0 ? never() : Promise.resolve(i);
      calls.push(d.race(p).then((v) => order.push(`ok${String(v)}`), () => order.push(`late${i}`)));
      await after(3, null);
    }
    await Promise.all(calls);
    expect(order.filter((o) => o.startsWith('ok')).sort()).toEqual(['ok1', 'ok3', 'ok5']);
    expect(order.filter((o) => o.startsWith('late'))).toEqual(['late0', 'late2', 'late4']);
    expect(d.pending).toBe(0);
  });

  it('a result that arrives after the timeout is swallowed, and the error after a value too', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const d = deadlines(10);
      let rejectLate!: (e: Error) => void;
      const late = new Promise<never>((_, reject) => (rejectLate = reject));
      await expect(d.race(late)).rejects.toBeInstanceOf(Late);
      rejectLate(new Error('after the deadline'));
      await expect(d.race(after(60, 'slow'))).rejects.toBeInstanceOf(Late);
      await after(80, null);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps working across bursts: the queue empties and a later call gets a fresh timer', async () => {
    const d = deadlines(15);
    await Promise.all(Array.from({ length: 3000 }, (_, i) => d.race(i % 3 === 0 ? never() : Promise.resolve(i)).catch(() => 'late')));
    expect(d.pending).toBe(0);
    await expect(d.race(never())).rejects.toBeInstanceOf(Late);
    await expect(d.race(Promise.resolve('again'))).resolves.toBe('again');
  });

  it('fails every pending call at once when the connection is gone', async () => {
    const d = deadlines(10_000);
    const calls = [d.race(never()), d.race(never()), d.race(Promise.resolve('done'))];
    await after(1, null);
    const started = performance.now();
    d.failAll(new Error('connection closed'));
    const settled = await Promise.allSettled(calls);
    expect(performance.now() - started).toBeLessThan(50);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(d.pending).toBe(0);
  });
});

describe('Deadlines under a busy event loop (real I/O from another process)', () => {
  let instant: Awaited<ReturnType<typeof echoer>>;
  let slow: Awaited<ReturnType<typeof echoer>>;
  beforeAll(async () => {
    [instant, slow] = await Promise.all([echoer(0), echoer(30)]);
  });
  afterAll(() => {
    instant?.child.kill();
    slow?.child.kill();
  });

  it('delivers a reply that arrived while the loop was blocked past the deadline', async () => {
    const d = deadlines(30);
    const raced = d.race(instant.send('reply'));
    // The reply is in the pipe within a millisecond; the loop only looks again after 100 ms, when
    // the deadline timer is long due and runs before the pipe is read.
    block(100);
    await expect(raced).resolves.toBe('reply');
  });

  it('gives a command written late, after a stall, the time it needs', async () => {
    const d = deadlines(50);
    // Written on the next I/O turn, as ioredis's auto-pipelining does; answered 30 ms later.
    const reply = new Promise<string>((ok) => setImmediate(() => void slow.send('late write').then(ok)));
    const raced = d.race(reply);
    // A burst of other work holds the write back for 40 ms: the deadline (50 ms) falls before the
    // answer (~70 ms), but the stall was modelgate's, not Redis's.
    block(40);
    await expect(raced).resolves.toBe('late write');
  });

  it('still gives up on a call Redis never answers after a stall', async () => {
    const d = deadlines(30);
    const started = performance.now();
    const raced = d.race(never());
    block(60);
    await expect(raced).rejects.toBeInstanceOf(Late);
    // The stall restarts the silence: 30 ms of on-time loop after it.
    expect(performance.now() - started).toBeGreaterThanOrEqual(89);
  });
});

describe('Deadlines while Redis answers other calls', () => {
  it('keeps waiting while replies keep coming, and gives up once Redis is silent', async () => {
    const d = deadlines(40, 10_000);
    const started = performance.now();
    const stuck = d.race(never()).catch(() => performance.now() - started);
    for (let i = 0; i < 15; i++) await d.race(after(10, i));
    const lastAnswer = performance.now() - started;
    const gaveUpAt = await stuck;
    expect(gaveUpAt).toBeGreaterThanOrEqual(lastAnswer + 39);
    expect(gaveUpAt).toBeLessThan(lastAnswer + 400);
  });

  it('gives up after maxWaitMs on a call nobody answers while others are answered', async () => {
    const d = deadlines(20, 100);
    const started = performance.now();
    let answering = true;
    const others = (async () => {
      while (answering) await d.race(after(5, 'other'));
    })();
    const gaveUpAt = await d.race(never()).catch(() => performance.now() - started);
    answering = false;
    await others;
    expect(gaveUpAt).toBeGreaterThanOrEqual(99);
    expect(gaveUpAt).toBeLessThan(600);
  });

  it('with maxWaitMs equal to the timeout (a Cluster), gives up at the timeout whoever else answers', async () => {
    const d = deadlines(30, 30);
    const started = performance.now();
    let answering = true;
    const others = (async () => {
      while (answering) await d.race(after(5, 'other node'));
    })();
    const gaveUpAt = await d.race(never()).catch(() => performance.now() - started);
    answering = false;
    await others;
    expect(gaveUpAt).toBeGreaterThanOrEqual(29);
    expect(gaveUpAt).toBeLessThan(300);
  });
});
