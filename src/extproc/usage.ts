// Reads OpenAI-style token usage from a parsed response (JSON body or SSE chunk) or from response headers.

import type { Usage } from './settler.js';

/**
 * A token count the ledger can trust: a non-negative safe integer. Anything else (strings, floats,
 * negatives, 1e300) makes the whole usage unknown, settled at the input cost, rather than guessed.
 */
function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `usage.{prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens}` of a response
 * object, undefined when absent or not trustworthy. total_tokens is not needed (it is the sum) and
 * not checked: servers disagree about whether it counts cached tokens.
 */
export function usageOf(response: unknown): Usage | undefined {
  if (!isObject(response) || !isObject(response.usage)) return undefined;
  const usage = response.usage;
  const inputTokens = count(usage.prompt_tokens);
  const outputTokens = count(usage.completion_tokens);
  if (inputTokens === undefined || outputTokens === undefined) return undefined;
  const details = usage.prompt_tokens_details;
  let cachedInputTokens = 0;
  if (isObject(details) && details.cached_tokens !== undefined && details.cached_tokens !== null) {
    const cached = count(details.cached_tokens);
    // Cached tokens are part of the prompt: more than the prompt is a lie, not a discount.
    if (cached === undefined || cached > inputTokens) return undefined;
    cachedInputTokens = cached;
  }
  return { inputTokens, outputTokens, cachedInputTokens };
}

/** Parses `text` as JSON and reads its usage; never throws (bad or absurdly nested JSON is no usage). */
export function usageOfJson(text: string): Usage | undefined {
  try {
    return usageOf(JSON.parse(text));
  } catch {
    return undefined;
  }
}

export interface UsageHeaderNames {
  readonly input: string;
  readonly output: string;
  readonly cached_input?: string | undefined;
}

const DIGITS = /^\d{1,15}$/;

function headerCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return DIGITS.test(trimmed) ? Number(trimmed) : undefined;
}

/** Usage from response headers (names lower case), undefined unless input and output are both plain integers. */
export function usageOfHeaders(headers: ReadonlyMap<string, string>, names: UsageHeaderNames): Usage | undefined {
  const inputTokens = headerCount(headers.get(names.input));
  const outputTokens = headerCount(headers.get(names.output));
  if (inputTokens === undefined || outputTokens === undefined) return undefined;
  const cachedRaw = names.cached_input === undefined ? undefined : headers.get(names.cached_input);
  const cached = cachedRaw === undefined ? 0 : headerCount(cachedRaw);
  if (cached === undefined || cached > inputTokens) return undefined;
  return { inputTokens, outputTokens, cachedInputTokens: cached };
}
