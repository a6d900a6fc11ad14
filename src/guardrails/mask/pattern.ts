// The shape every masking pattern compiles to, and the regex-backed kind most of them are.

/** `text[start, end)` is to be replaced by `[kind]`. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly kind: string;
}

/**
 * A pattern compiled once at load. Both methods are synchronous and leave no state behind, so one
 * compiled pattern serves every exchange (the `g` regexes' lastIndex is set before each use).
 */
export interface CompiledPattern {
  readonly kind: string;
  /** Longest span it reports (longer matches are cut to this from their start). */
  readonly maxLength: number;
  /** Appends its matches in text[from..], in any order (they may overlap: the matcher sorts and merges); lookbehinds may read before `from`. */
  find(text: string, from: number, out: Span[]): void;
  /**
   * The lowest index ≥ `from` at which a match could begin that text appended after the end might
   * still change (extend it, or make it a match at all). A stream holds back text from there.
   */
  holdFrom(text: string, from: number): number;
}

/** Characters a match's lookarounds may read past its end; held back beyond the longest match. */
export const LOOKAROUND_MARGIN = 16;

/** How far back a stream keeps raw text so lookbehinds see what came before a held tail. */
export const CONTEXT_CHARS = 64;

function isSpace(code: number): boolean {
  if (code <= 32) return code === 32 || (code >= 9 && code <= 13);
  return code >= 128 && /\s/.test(String.fromCharCode(code));
}

/** Start of the run of non-whitespace characters that ends `text` (`text.length` after a space). */
export function trailingWordStart(text: string, from: number): number {
  let i = text.length;
  while (i > from && !isSpace(text.charCodeAt(i - 1))) i--;
  return i;
}

export interface RegexPatternOptions {
  readonly kind: string;
  /** Compiled with the `g` flag (and `i` when asked); never recompiled. */
  readonly regex: RegExp;
  readonly maxLength: number;
  /**
   * `word`: every match lies inside one run of non-whitespace characters, so a stream holds back
   * only the trailing word (at most maxLength + margin). `fixed`: a match may span whitespace, so a
   * stream always holds back maxLength + margin characters.
   */
  readonly hold: 'word' | 'fixed';
}

export function regexPattern(options: RegexPatternOptions): CompiledPattern {
  const { kind, regex, maxLength, hold } = options;
  const reach = maxLength + LOOKAROUND_MARGIN;
  return {
    kind,
    maxLength,
    find(text, from, out) {
      regex.lastIndex = from;
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        // Refused at load for custom patterns; skipped here too so a scan can never stall.
        if (m[0].length === 0) {
          regex.lastIndex++;
          continue;
        }
        const end = m.index + Math.min(m[0].length, maxLength);
        out.push({ start: m.index, end, kind });
        regex.lastIndex = end;
      }
    },
    holdFrom(text, from) {
      const bound = Math.max(from, text.length - reach);
      return hold === 'word' ? Math.max(bound, trailingWordStart(text, from)) : bound;
    },
  };
}
