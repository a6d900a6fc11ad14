// The `email` pattern: found from each `@` (a fast literal scan) and walked back over the local part,
// which masks what the plain regex below would, at a few ns per character instead of ~65 (that
// regex retries its 64-character local part at every position of the text).
//
//   (?<!\\)[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}
//
// Addresses of the usual shape: a local part of up to 64 characters, up to 8 dotted labels and a
// 2–24 letter TLD. `(?<!\\)` keeps an escape like `\n` out of the local part, so masking inside JSON
// text (tool-call arguments) does not break the escape. A longer local part loses its head to the
// 64-character bound, never its domain.

import { trailingWordStart, LOOKAROUND_MARGIN, type CompiledPattern, type Span } from './pattern.js';

const DOMAIN = /@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}/g;
const LOCAL_MAX = 64;
const MAX_LENGTH = LOCAL_MAX + 1 + 8 * 64 + 24;
const BACKSLASH = 92;

/** [A-Za-z0-9._%+-] */
function isLocal(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 46 || code === 95 || code === 37 || code === 43 || code === 45;
}

export const emailPattern: CompiledPattern = {
  kind: 'email',
  maxLength: MAX_LENGTH,
  find(text: string, from: number, out: Span[]): void {
    let floor = from; // no local part starts before this (the scan start, or the last match's end)
    DOMAIN.lastIndex = from;
    for (let m = DOMAIN.exec(text); m !== null; m = DOMAIN.exec(text)) {
      const at = m.index;
      let start = at;
      while (start > floor && at - start < LOCAL_MAX && isLocal(text.charCodeAt(start - 1))) start--;
      if (start < at && start > 0 && text.charCodeAt(start - 1) === BACKSLASH) start++;
      if (start === at) {
        DOMAIN.lastIndex = at + 1; // no local part: the domain may hold the next address's `@`
        continue;
      }
      out.push({ start, end: at + m[0].length, kind: 'email' });
      floor = at + m[0].length;
    }
  },
  holdFrom(text: string, from: number): number {
    // An address holds no whitespace: only the trailing word can still grow into one.
    return Math.max(from, text.length - MAX_LENGTH - LOOKAROUND_MARGIN, trailingWordStart(text, from));
  },
};
