// A set of compiled patterns applied together: where to mask, how much of a streamed tail to hold
// back, and the masked text with its counts. One place for the masking rule, for JSON, SSE and text.

import type { CompiledPattern, Span } from './pattern.js';

export interface Matcher {
  readonly kinds: readonly string[];
  /**
   * Spans to mask in text[from..], leftmost first. Overlapping matches of different patterns merge
   * into one span (named after the leftmost), so no part of either survives.
   */
  spans(text: string, from: number): Span[];
  /** Lowest index ≥ from that appended text could still make part of a span (see CompiledPattern.holdFrom). */
  holdFrom(text: string, from: number): number;
}

export type Counts = Record<string, number>;

export function matcher(patterns: readonly CompiledPattern[]): Matcher {
  const kinds = patterns.map((p) => p.kind);
  return {
    kinds,
    spans(text, from) {
      const found: Span[] = [];
      for (const pattern of patterns) pattern.find(text, from, found);
      if (found.length <= 1) return found;
      found.sort((a, b) => a.start - b.start || b.end - a.end);
      const merged: Span[] = [found[0]!];
      for (let i = 1; i < found.length; i++) {
        const span = found[i]!;
        const last = merged[merged.length - 1]!;
        if (span.start < last.end) {
          if (span.end > last.end) merged[merged.length - 1] = { ...last, end: span.end };
        } else merged.push(span);
      }
      return merged;
    },
    holdFrom(text, from) {
      let hold = text.length;
      for (const pattern of patterns) hold = Math.min(hold, pattern.holdFrom(text, from));
      return hold;
    },
  };
}

/** text[from, to) with every span inside it replaced by `[kind]`, each counted once in `counts`. */
export function maskRange(text: string, from: number, to: number, spans: readonly Span[], counts: Counts): string {
  let out = '';
  let at = from;
  for (const span of spans) {
    if (span.end > to) break;
    out += text.slice(at, span.start) + `[${span.kind}]`;
    counts[span.kind] = (counts[span.kind] ?? 0) + 1;
    at = span.end;
  }
  return out + text.slice(at, to);
}

/** A whole string masked at once (a JSON value, an SSE field that is not streamed); same string when clean. */
export function maskString(m: Matcher, text: string, counts: Counts): string {
  const spans = m.spans(text, 0);
  return spans.length === 0 ? text : maskRange(text, 0, text.length, spans, counts);
}
