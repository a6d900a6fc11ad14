// One timer gives up on every call that outlives the shared timeout, and nothing else.

import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../../src/ratelimit/deadlines.js';

class Late extends Error {}
const never = () => new Promise<never>(() => {});
const after = <T>(ms: number, value: T) => new Promise<T>((ok) => setTimeout(() => ok(value), ms));

describe('Deadlines', () => {
  it('passes values and rejections through when they come in time', async () => {
    const d = new Deadlines(1_000, () => new Late());
    await expect(d.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(d.race(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(d.race(after(5, 'x'))).resolves.toBe('x');
  });

  it('rejects a call that never settles with the timeout error, not before the timeout', async () => {
    const d = new Deadlines(30, () => new Late('late'));
    const started = performance.now();
    await expect(d.race(never())).rejects.toBeInstanceOf(Late);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(d.pending).toBe(0);
  });

  it('expires each of many staggered calls, settled ones in between untouched, oldest first', async () => {
    const d = new Deadlines(40, () => new Late());
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
      const d = new Deadlines(10, () => new Late());
      let rejectLate!: (e: Error) => void;
      const late = new Promise<never>((_, reject) => (rejectLate = reject));
      await expect(d.race(late)).rejects.toBeInstanceOf(Late);
      rejectLate(new Error('after the deadline'));
      await expect(d.race(after(30, 'slow'))).rejects.toBeInstanceOf(Late);
      await after(40, null);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps working across bursts: the queue empties and a later call gets a fresh timer', async () => {
    const d = new Deadlines(15, () => new Late());
    await Promise.all(Array.from({ length: 3000 }, (_, i) => d.race(i % 3 === 0 ? never() : Promise.resolve(i)).catch(() => 'late')));
    expect(d.pending).toBe(0);
    await expect(d.race(never())).rejects.toBeInstanceOf(Late);
    await expect(d.race(Promise.resolve('again'))).resolves.toBe('again');
  });
});
