// The expiry heap against a plain list: random pushes, updates and removals keep the earliest on top.

import { describe, expect, it } from 'vitest';
import { ExpiryHeap, type HeapEntry } from '../../../src/ratelimit/expiry-heap.js';

describe('ExpiryHeap', () => {
  it('always has the earliest expiry on top and every slot right', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const heap = new ExpiryHeap<HeapEntry & { id: number }>();
    const live: Array<HeapEntry & { id: number }> = [];
    for (let step = 0; step < 5_000; step++) {
      const op = rand(4);
      if (op <= 1 || live.length === 0) {
        const e = { id: step, expiresAt: rand(1_000), slot: -1 };
        heap.push(e);
        live.push(e);
      } else if (op === 2) {
        const e = live[rand(live.length)]!;
        e.expiresAt = rand(1_000);
        heap.update(e);
      } else {
        const e = live.splice(rand(live.length), 1)[0]!;
        heap.remove(e);
        expect(e.slot).toBe(-1);
      }
      expect(heap.size).toBe(live.length);
      if (live.length > 0) expect(heap.peek()!.expiresAt).toBe(Math.min(...live.map((e) => e.expiresAt)));
    }
    for (const e of live) expect(e.slot).toBeGreaterThanOrEqual(0);
  });
});
