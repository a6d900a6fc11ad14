// The admission estimate: prompt tokens from the request body's text by a bytes-per-token rule,
// output tokens from max_tokens × n clamped to the model's maximum (docs/budgets.md).
//
// Why not a tokenizer: a BPE tokenizer in JS costs tens of µs per KB of prompt (docs/budgets.md
// has the measurement) against a whole-check budget of ~50 µs; settlement charges the real usage
// anyway, so the estimate only has to be a fair reservation.

import type { BudgetsConfig } from './config.js';
import type { ModelPrice } from './prices.js';

export interface Estimate {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** Why no estimate could be made: the limiter denies with this reason (fail closed). */
export type EstimateProblem = { readonly reason: 'body_required' | 'request_invalid'; readonly detail: string };

/** UTF-8 bytes of a string, counted natively (no copy). */
const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Bytes of text in a content value: a string, or an array of parts whose `text` strings count. */
function contentBytes(content: unknown): number {
  if (typeof content === 'string') return utf8Bytes(content);
  if (!Array.isArray(content)) return 0;
  let bytes = 0;
  for (const part of content) {
    if (typeof part === 'string') bytes += utf8Bytes(part);
    else if (part !== null && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') bytes += utf8Bytes((part as { text: string }).text);
  }
  return bytes;
}

/** A positive integer field, absent, or a problem. */
function positiveInteger(body: Record<string, unknown>, field: string): number | undefined | EstimateProblem {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  return { reason: 'request_invalid', detail: `${field} must be a positive integer` };
}

const isProblem = (v: unknown): v is EstimateProblem => typeof v === 'object' && v !== null && 'reason' in v;

/**
 * `body` is the lazily parsed JSON object, undefined when absent, partial (Envoy cut it) or not a
 * JSON object: no estimate can be trusted then, so the request is refused (`body_required`).
 */
export function estimate(body: unknown, price: ModelPrice, rules: BudgetsConfig['estimate']): Estimate | EstimateProblem {
  if (body === undefined || body === null || typeof body !== 'object') {
    return { reason: 'body_required', detail: 'a budget applies: the complete JSON request body is needed for the estimate (with_request_body)' };
  }
  const b = body as Record<string, unknown>;
  let bytes = 0;
  let messages = 0;
  if (Array.isArray(b.messages)) {
    for (const m of b.messages) {
      messages++;
      if (m !== null && typeof m === 'object') bytes += contentBytes((m as { content?: unknown }).content);
    }
  }
  bytes += contentBytes(b.prompt) + contentBytes(b.input) + contentBytes(b.system);
  const inputTokens = Math.ceil(bytes / rules.bytes_per_token) + messages * rules.per_message_tokens;

  const maxTokens = positiveInteger(b, 'max_completion_tokens');
  if (isProblem(maxTokens)) return maxTokens;
  const legacy = positiveInteger(b, 'max_tokens');
  if (isProblem(legacy)) return legacy;
  const n = positiveInteger(b, 'n');
  if (isProblem(n)) return n;
  const ceiling = price.maxOutputTokens ?? rules.default_max_output_tokens;
  const perChoice = Math.min(maxTokens ?? legacy ?? ceiling, ceiling);
  return { inputTokens, outputTokens: perChoice * (n ?? 1) };
}

export { isProblem as isEstimateProblem };
