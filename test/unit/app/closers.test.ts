// The composition root's stack of closers: last opened closes first, a failing closer does not stop
// the rest, and close runs once however often it is called.

import { describe, expect, it } from 'vitest';
import { Closers } from '../../../src/app/closers.js';

describe('Closers', () => {
  it('closes in reverse order of opening, awaiting each before the next', async () => {
    const closers = new Closers();
    const order: string[] = [];
    closers.push('redis', () => order.push('redis'));
    closers.push('grpc', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('grpc');
    });
    closers.push('admin', () => order.push('admin'));
    await closers.close();
    expect(order).toEqual(['admin', 'grpc', 'redis']);
  });

  it('reports a closer that throws or rejects and still runs the others', async () => {
    const closers = new Closers();
    const order: string[] = [];
    const failures: Array<[string, string]> = [];
    closers.push('redis', () => order.push('redis'));
    closers.push('audit', () => Promise.reject(new Error('disk gone')));
    closers.push('grpc', () => {
      throw new Error('already closed');
    });
    await closers.close((name, error) => failures.push([name, (error as Error).message]));
    expect(order).toEqual(['redis']);
    expect(failures).toEqual([
      ['grpc', 'already closed'],
      ['audit', 'disk gone'],
    ]);
  });

  it('runs once: a second close shares the first, and nothing can be opened after', async () => {
    const closers = new Closers();
    let calls = 0;
    closers.push('redis', () => calls++);
    const first = closers.close();
    const second = closers.close();
    expect(second).toBe(first);
    await second;
    expect(calls).toBe(1);
    expect(() => closers.push('late', () => undefined)).toThrow('cannot open late: already closing');
  });
});
