// The built-in masking patterns, compiled once when this module loads. Every quantifier is bounded, so
// a match's extent never depends on text further than its maximum length (what lets a stream hold
// back a bounded tail and still mask exactly what masking the whole text at once would).

import { cardPattern } from './card.js';
import { emailPattern } from './email.js';
import { regexPattern, type CompiledPattern } from './pattern.js';

export const BUILTIN_IDS = ['email', 'card', 'api_key'] as const;
export type BuiltinId = (typeof BUILTIN_IDS)[number];

/**
 * Credentials of well-known shapes, each after a non-token character (so `risk-assessment` is no
 * `sk-` key):
 * - `sk-…` OpenAI and Anthropic secret keys (`sk-proj-`, `sk-ant-`, …): 20–250 token characters
 *   with at least one digit;
 * - `ghp_ gho_ ghu_ ghs_ ghr_` GitHub tokens (36+ alphanumerics) and `github_pat_` fine-grained ones;
 * - `AKIA` / `ASIA` + 16 upper-case alphanumerics: AWS access key ids;
 * - `xoxa- xoxb- xoxp- xoxo- xoxr- xoxs-` Slack tokens;
 * - `AIza` + 35: Google API keys; `glpat-` + 20: GitLab personal tokens;
 * - JWT-looking `eyJ….eyJ….…` (base64url JSON header and payload, any signature);
 * - the token after `Bearer ` (20+ base64/base64url characters): only the token is masked, so the
 *   word `Bearer` stays.
 * Generic long random strings are not masked: request ids, hashes and base64 data look the same.
 */
const API_KEY = new RegExp(
  // The literal prefix comes first and the "not after a token character" lookbehind right after it:
  // the regex engine then scans for the prefixes alone (~3 ns per character, not ~34 with the
  // lookbehind in front of every alternative).
  [
    String.raw`sk-(?<=(?:^|[^A-Za-z0-9_-])sk-)(?=[A-Za-z0-9_-]{0,250}[0-9])[A-Za-z0-9_-]{20,250}`,
    String.raw`gh[pousr]_(?<=(?:^|[^A-Za-z0-9_])....)[A-Za-z0-9]{36,251}`,
    String.raw`github_pat_(?<=(?:^|[^A-Za-z0-9_])github_pat_)[A-Za-z0-9_]{22,251}`,
    String.raw`A[KS]IA(?<=(?:^|[^A-Za-z0-9])....)[A-Z0-9]{16}(?![A-Za-z0-9])`,
    String.raw`xox[abposr]-(?<=(?:^|[^A-Za-z0-9_-]).....)[A-Za-z0-9-]{10,250}`,
    String.raw`AIza(?<=(?:^|[^A-Za-z0-9_-])AIza)[0-9A-Za-z_-]{35}`,
    String.raw`glpat-(?<=(?:^|[^A-Za-z0-9_-])glpat-)[A-Za-z0-9_-]{20,250}`,
    String.raw`eyJ(?<=(?:^|[^A-Za-z0-9_-])eyJ)[A-Za-z0-9_-]{8,2048}\.eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{0,2048}`,
  ].join('|'),
  'g',
);
/** Only the token is the match (the lookbehind holds `Bearer`), so a held stream tail never spans the space. */
const BEARER = /(?<=\bBearer[ \t]{1,4})[A-Za-z0-9._~+/-]{20,2048}={0,2}/g;
const API_KEY_MAX = 3 + 2048 + 1 + 3 + 4096 + 1 + 2048;

const keyShapes = regexPattern({ kind: 'api_key', regex: API_KEY, maxLength: API_KEY_MAX, hold: 'word' });
const bearer = regexPattern({ kind: 'api_key', regex: BEARER, maxLength: 2050, hold: 'word' });

/** Both regexes as one pattern; the Bearer one runs only where the word occurs (its lookbehind costs at every position). */
const apiKeyPattern: CompiledPattern = {
  kind: 'api_key',
  maxLength: API_KEY_MAX,
  find(text, from, out) {
    keyShapes.find(text, from, out);
    if (text.includes('Bearer', Math.max(0, from - 12))) bearer.find(text, from, out);
  },
  holdFrom: (text, from) => keyShapes.holdFrom(text, from),
};

const BUILTINS: Readonly<Record<BuiltinId, CompiledPattern>> = { email: emailPattern, card: cardPattern, api_key: apiKeyPattern };

export function builtinPattern(id: BuiltinId): CompiledPattern {
  return BUILTINS[id];
}
