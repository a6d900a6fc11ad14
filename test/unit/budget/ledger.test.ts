// The public API other stages use (src/budget/ledger.ts): one factory, a limiter and its settler on one ledger.

import { describe, expect, it } from 'vitest';
import { budgetsSchema } from '../../../src/budget/config.js';
import { createLedger } from '../../../src/budget/ledger.js';
import { chat, reservationOf, T0 } from '../../helpers/budget/ledgers.js';

describe('createLedger', () => {
  it('builds the memory ledger from config alone; settle and release work by reservation id', async () => {
    const ledger = await createLedger({ budgets: budgetsSchema.parse({ budgets: [{ id: 'd', level: 'subject', unit: 'tokens', limit: 300, period: 'day' }], concurrency: [{ id: 'c', per: 'subject', max_in_flight: 1 }] }) });
    try {
      const id = reservationOf(await ledger.limiter.take(chat()));
      expect(await ledger.limiter.take(chat({ prompt: 'a', maxTokens: 1 }))).toMatchObject({ allowed: false, reason: 'concurrency_limited' });
      expect(await ledger.settler!.release(id, T0 + 1)).toBe('settled');
      expect(await ledger.limiter.take(chat({ now: T0 + 2, prompt: 'a', maxTokens: 1 }))).toMatchObject({ allowed: true });
      expect(await ledger.settler!.settle({ reservationId: id, usage: { inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 }, failed: false, now: T0 + 3 })).toEqual({ outcome: 'settled', charged: { inputTokens: 1, outputTokens: 2, microUnits: 0 } });
      expect(await ledger.settler!.settle({ reservationId: 'not-ours', usage: undefined, failed: false, now: T0 + 4 })).toEqual({ outcome: 'unknown' });
    } finally {
      await ledger.close();
    }
  });

  it('without budgets or limits: the unlimited limiter and no settler', async () => {
    const ledger = await createLedger({});
    expect(ledger.settler).toBeUndefined();
    expect(await ledger.limiter.take(chat())).toMatchObject({ allowed: true, metadata: {} });
    await ledger.close();
  });
});
