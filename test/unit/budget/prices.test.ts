// Money in integer micro-units: BigInt products, one ceiling per charge, first matching price wins.

import { describe, expect, it } from 'vitest';
import { compilePrices, FREE, moneyMicroUnits, usageCost } from '../../../src/budget/prices.js';

describe('prices', () => {
  it('picks the first matching glob, case-insensitively; unpriced models cost nothing', () => {
    const priceOf = compilePrices([
      { models: ['gpt-4o-mini*'], input: 150_000, output: 600_000, max_output_tokens: 16_384 },
      { models: ['gpt-4o*'], input: 2_500_000, output: 10_000_000, cached_input: 1_250_000 },
    ]);
    expect(priceOf('gpt-4o-mini-2024')).toEqual({ input: 150_000, output: 600_000, cachedInput: 150_000, maxOutputTokens: 16_384 });
    expect(priceOf('GPT-4o')).toMatchObject({ input: 2_500_000, cachedInput: 1_250_000 });
    expect(priceOf('llama')).toBe(FREE);
  });

  it('rounds up once over the whole request, never per component', () => {
    const p = { input: 1, output: 1, cachedInput: 1, maxOutputTokens: undefined };
    // 1 token at 1 micro-unit per million: 1e-6 → 1 (never 0); 999,999 + 1 tokens → exactly 1.
    expect(moneyMicroUnits(p, 1, 0)).toBe(1);
    expect(moneyMicroUnits(p, 999_999, 1)).toBe(1);
    expect(moneyMicroUnits(p, 1_000_000, 1)).toBe(2);
    expect(moneyMicroUnits(p, 0, 0)).toBe(0);
  });

  it('charges cached input at its own price and stays exact past 2^53', () => {
    const p = { input: 2_500_000, output: 10_000_000, cachedInput: 1_250_000, maxOutputTokens: undefined };
    expect(moneyMicroUnits(p, 1_000, 100, 400)).toBe(600 * 2.5 + 400 * 1.25 + 100 * 10);
    const huge = { input: 9_000_000_000, output: 0, cachedInput: 0, maxOutputTokens: undefined };
    // 2e9 × 9e9 = 1.8e19 > 2^53: float arithmetic would lose the last digits.
    expect(moneyMicroUnits(huge, 2_000_000_001, 0)).toBe(18_000_000_009_000);
  });
});

describe('usageCost (the ext_proc metadata price)', () => {
  const prices = [{ models: ['gpt-4o*'], input: 2_500_000, output: 10_000_000, cached_input: 1_250_000, max_output_tokens: undefined }];
  it('prices reported usage with the budgets table, follows a reload, and leaves unpriced models out', () => {
    let current: typeof prices | undefined = prices;
    const cost = usageCost(() => current);
    // 1000 uncached input at 2.5 + 1000 cached at 1.25 + 500 output at 10 (micro-units per token ×1e6)
    expect(cost('gpt-4o-mini', { inputTokens: 2000, outputTokens: 500, cachedInputTokens: 1000 })).toBe(2_500 + 1_250 + 5_000);
    expect(cost('llama-3', { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 })).toBeUndefined();
    current = [{ ...prices[0]!, output: 20_000_000 }];
    expect(cost('gpt-4o', { inputTokens: 0, outputTokens: 500, cachedInputTokens: 0 })).toBe(10_000);
    current = undefined;
    expect(cost('gpt-4o', { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 })).toBeUndefined();
  });
});
