// The receiver's bounds: stream slots and an entry token bucket, on an injected clock.

import { describe, expect, it } from 'vitest';
import { receiverBudget } from '../../../src/audit/receiver-budget.js';

describe('receiverBudget', () => {
  it('grants up to max_streams slots and takes a released one back', () => {
    const budget = receiverBudget({ maxStreams: 2, entriesPerSecond: 1, burst: 1 });
    expect([budget.openStream(), budget.openStream(), budget.openStream()]).toEqual([true, true, false]);
    budget.releaseStream();
    expect(budget.openStream()).toBe(true);
  });

  it('grants a burst, then the sustained rate, never more than the burst after a pause', () => {
    let t = 0;
    const budget = receiverBudget({ maxStreams: 1, entriesPerSecond: 10, burst: 20 }, () => t);
    expect(budget.takeEntries(25)).toBe(20);
    expect(budget.takeEntries(5)).toBe(0);
    t = 500;
    expect(budget.takeEntries(10)).toBe(5);
    t = 60_000;
    expect(budget.takeEntries(100)).toBe(20);
    // A clock that steps back refills nothing.
    t = 0;
    expect(budget.takeEntries(1)).toBe(0);
  });
});
