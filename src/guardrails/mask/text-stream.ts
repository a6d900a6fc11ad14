// One streamed text (a choice's delta content, a plain-text body) masked as it arrives: each push
// emits what no later text can change and holds back the tail that could still be part of a match.
//
// Why this equals masking the whole text at once: every pattern's span is at most maxLength long and
// decided by at most maxLength + LOOKAROUND_MARGIN characters from its start, and holdFrom() reports
// where a span could still begin and be changed by text to come. The emitted part ends before that,
// and never inside a span; the raw text just before the held tail is kept (CONTEXT_CHARS) so
// lookbehinds see what they would have seen in the whole text.

import type { Counts, Matcher } from './matcher.js';
import { maskRange } from './matcher.js';
import { CONTEXT_CHARS } from './pattern.js';

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

export class MaskedTextStream {
  /** Raw text already emitted, kept only for lookbehinds. */
  private context = '';
  /** Raw text not emitted yet. */
  private held = '';

  constructor(
    private readonly matcher: Matcher,
    private readonly counts: Counts,
  ) {}

  /** Characters held back right now (the latency this stream adds, in characters). */
  get heldLength(): number {
    return this.held.length;
  }

  /** The masked text to send now; with `final`, everything still held is sent too. */
  push(delta: string, final: boolean): string {
    if (delta === '' && this.held === '' && !final) return '';
    const text = this.context + this.held + delta;
    const from = this.context.length;
    const spans = this.matcher.spans(text, from);
    let cut = final ? text.length : this.matcher.holdFrom(text, from);
    // Never split a UTF-16 surrogate pair across two events.
    if (cut > from && cut < text.length && isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
    for (const span of spans) {
      if (span.start >= cut) break;
      if (span.end > cut) {
        cut = span.start; // a span is emitted whole or not at all
        break;
      }
    }
    const out = maskRange(text, from, cut, spans, this.counts);
    this.held = text.slice(cut);
    this.context = text.slice(Math.max(0, cut - CONTEXT_CHARS), cut);
    return out;
  }
}
