// Model prices and money arithmetic: integer micro-units, BigInt products, one ceiling per charge.

import picomatch from 'picomatch';
import type { BudgetsConfig } from './config.js';

export interface ModelPrice {
  /** Integer micro-units per million tokens. */
  readonly input: number;
  readonly output: number;
  readonly cachedInput: number;
  /** The model's largest completion, when configured. */
  readonly maxOutputTokens: number | undefined;
}

export const FREE: ModelPrice = Object.freeze({ input: 0, output: 0, cachedInput: 0, maxOutputTokens: undefined });

/** The first matching `prices` entry per model name (models arrive lower-cased; globs compare without case). */
export function compilePrices(prices: BudgetsConfig['prices']): (model: string) => ModelPrice {
  const table = prices.map((p) => ({
    matches: picomatch([...p.models], { dot: true, nocase: true }),
    price: Object.freeze({ input: p.input, output: p.output, cachedInput: p.cached_input ?? p.input, maxOutputTokens: p.max_output_tokens }),
  }));
  const cache = new Map<string, ModelPrice>();
  return (model) => {
    let price = cache.get(model);
    if (price === undefined) {
      price = table.find((t) => t.matches(model))?.price ?? FREE;
      // Model names are bounded by policy.targets (names.ts); the cap guards a misconfiguration.
      if (cache.size < 10_000) cache.set(model, price);
    }
    return price;
  };
}

const MILLION = 1_000_000n;

/**
 * Money for one request: ceil((uncached_in × input + cached_in × cached_input + out × output) / 1e6)
 * micro-units. Products in BigInt (tokens × price can pass 2^53); one ceiling over the sum, so a
 * request is over-charged by less than one micro-unit and never under-charged.
 */
export function moneyMicroUnits(price: ModelPrice, inputTokens: number, outputTokens: number, cachedInputTokens = 0): number {
  const cached = BigInt(Math.min(cachedInputTokens, inputTokens));
  const uncached = BigInt(inputTokens) - cached;
  const total = uncached * BigInt(price.input) + cached * BigInt(price.cachedInput) + BigInt(outputTokens) * BigInt(price.output);
  return Number((total + MILLION - 1n) / MILLION);
}

/**
 * The price of a response's reported usage, following config reloads (`current` is read per call;
 * the table is compiled once per `prices` list seen). Undefined when no `prices` entry names the model.
 */
export function usageCost(current: () => BudgetsConfig['prices'] | undefined): (model: string, usage: { inputTokens: number; outputTokens: number; cachedInputTokens: number }) => number | undefined {
  let seen: BudgetsConfig['prices'] | undefined;
  let priceOf: ((model: string) => ModelPrice) | undefined;
  return (model, usage) => {
    const prices = current();
    if (prices === undefined || prices.length === 0) return undefined;
    if (prices !== seen) {
      priceOf = compilePrices(prices);
      seen = prices;
    }
    const price = priceOf!(model);
    if (price === FREE) return undefined;
    return moneyMicroUnits(price, usage.inputTokens, usage.outputTokens, usage.cachedInputTokens);
  };
}
