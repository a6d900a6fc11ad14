// The `card` pattern: 13–19 digits, optionally grouped by single spaces or dashes, masked only when
// the Luhn check passes (so most order numbers, phone numbers and timestamps are left alone).

import { LOOKAROUND_MARGIN, type CompiledPattern, type Span } from './pattern.js';

const MIN_DIGITS = 13;
const MAX_DIGITS = 19;
/** 19 digits and 18 separators. */
const MAX_LENGTH = MAX_DIGITS * 2 - 1;

const DIGIT_RUN = /[0-9]+/g;
const isDigit = (code: number): boolean => code >= 48 && code <= 57;
const isSeparator = (code: number): boolean => code === 32 || code === 45;

/** Luhn (ISO/IEC 7812) over the first `count` of `digits`. */
export function luhnValid(digits: readonly number[], count = digits.length): boolean {
  let sum = 0;
  for (let i = count - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits[i]!;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return count > 0 && sum % 10 === 0;
}

/**
 * The longest card starting at `start` (a digit that no digit precedes): it ends after a digit that
 * no digit follows, and between the two only digits and single separators appear. Trying every group
 * end, not only the last, keeps "4111 1111 1111 1111 7" from hiding a valid card behind a stray group.
 */
function cardAt(text: string, start: number, digits: number[]): number {
  digits.length = 0;
  let best = -1;
  let i = start;
  while (i < text.length && digits.length < MAX_DIGITS) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) break;
    digits.push(code - 48);
    i++;
    const next = i < text.length ? text.charCodeAt(i) : -1;
    if (isDigit(next)) continue;
    if (digits.length >= MIN_DIGITS && luhnValid(digits)) best = i;
    if (!isSeparator(next) || !isDigit(i + 1 < text.length ? text.charCodeAt(i + 1) : -1)) break;
    i++; // the separator
  }
  return best;
}

export const cardPattern: CompiledPattern = {
  kind: 'card',
  maxLength: MAX_LENGTH,
  find(text: string, from: number, out: Span[]): void {
    const digits: number[] = [];
    // Each run of digits is a possible start (the regex skips prose far faster than a char loop).
    DIGIT_RUN.lastIndex = from;
    for (let m = DIGIT_RUN.exec(text); m !== null; m = DIGIT_RUN.exec(text)) {
      const i = m.index;
      if (i > 0 && isDigit(text.charCodeAt(i - 1))) continue; // the run began before `from`
      // Starts inside a card found are tried too: "5 4111 1111 1111 1111" may hold a valid 13-digit
      // run from the 5 and the real card after it, and the matcher merges the two into one span.
      const end = cardAt(text, i, digits);
      if (end > 0) out.push({ start: i, end, kind: 'card' });
    }
  },
  holdFrom(text: string, from: number): number {
    // A card still growing starts at a digit of the trailing run of digits and separators (so the
    // space that ends most streamed words is never held for it).
    let i = text.length;
    while (i > from) {
      const code = text.charCodeAt(i - 1);
      if (!isDigit(code) && !isSeparator(code)) break;
      i--;
    }
    while (i < text.length && !isDigit(text.charCodeAt(i))) i++;
    return Math.max(i, text.length - MAX_LENGTH - LOOKAROUND_MARGIN, from);
  },
};
