// Masks a JSON response body: buffered to the end (bounded), then every string value is masked in
// place, so the bytes between values (numbers, spacing, key order) stay exactly as the model sent them.

import type { BodyTransformer } from '../../extproc/transform.js';
import { maskString, type Counts, type Matcher } from './matcher.js';
import { MaskedTextStream } from './text-stream.js';
import { withheldJson } from './withheld.js';

/** A JSON string token; in valid JSON nothing outside strings holds a quote. */
const STRING_TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"/g;
const EMPTY = Buffer.alloc(0);

export interface JsonMaskerOptions {
  readonly matcher: Matcher;
  readonly maxBytes: number;
}

export function jsonMasker(options: JsonMaskerOptions): BodyTransformer {
  const counts: Counts = {};
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  return {
    counts,
    push(chunk, end) {
      if (!overflow) {
        size += chunk.length;
        if (size > options.maxBytes) {
          // Fail closed: a body too big to mask is never passed on unmasked.
          overflow = true;
          chunks.length = 0;
        } else if (chunk.length > 0) chunks.push(chunk);
      }
      if (!end) return EMPTY;
      if (overflow) {
        counts.body_withheld = 1;
        return withheldJson('masking_body_too_large', 'it is too large to mask');
      }
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      return maskJsonBody(body, options.matcher, counts);
    },
  };
}

/** The body masked; `body` itself when nothing needed masking. */
export function maskJsonBody(body: Buffer, m: Matcher, counts: Counts): Buffer {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON after all (an upstream error page): masked as plain text, still never passed raw.
    counts.body_not_json = 1;
    const masked = new MaskedTextStream(m, counts).push(text, true);
    return masked === text ? body : Buffer.from(masked, 'utf8');
  }
  if (hasLogprobs(parsed)) return Buffer.from(JSON.stringify(maskValue(dropLogprobs(parsed, counts), m, counts)), 'utf8');
  let out = '';
  let at = 0;
  STRING_TOKEN.lastIndex = 0;
  for (let t = STRING_TOKEN.exec(text); t !== null; t = STRING_TOKEN.exec(text)) {
    const token = t[0];
    if (isKey(text, STRING_TOKEN.lastIndex)) continue;
    const value = token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
    const masked = maskString(m, value, counts);
    if (masked === value) continue;
    out += text.slice(at, t.index) + JSON.stringify(masked);
    at = STRING_TOKEN.lastIndex;
  }
  return at === 0 ? body : Buffer.from(out + text.slice(at), 'utf8');
}

function isKey(text: string, after: number): boolean {
  let i = after;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  return text[i] === ':';
}

/** Every string value masked (keys kept); the object walked is a fresh parse, so it is changed in place. */
export function maskValue(value: unknown, m: Matcher, counts: Counts): unknown {
  if (typeof value === 'string') return maskString(m, value, counts);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = maskValue(value[i], m, counts);
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = maskValue(record[key], m, counts);
  }
  return value;
}

type Choices = { choices?: Array<{ logprobs?: unknown }> };

function hasLogprobs(body: unknown): boolean {
  const choices = (body as Choices | null)?.choices;
  return Array.isArray(choices) && choices.some((c) => c !== null && typeof c === 'object' && c.logprobs != null);
}

/**
 * Log probabilities repeat the answer token by token, and a secret split over tokens is masked in no
 * single one of them: they are removed (set to null) wherever text is masked, and counted.
 */
export function dropLogprobs<T>(body: T, counts: Counts): T {
  for (const choice of (body as Choices).choices ?? []) {
    if (choice === null || typeof choice !== 'object' || choice.logprobs == null) continue;
    choice.logprobs = null;
    counts.logprobs = (counts.logprobs ?? 0) + 1;
  }
  return body;
}
