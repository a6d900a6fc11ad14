// Secrets of every masked shape, made at test time (never checked in), for the masking tests (src/guardrails/mask/).

import { compileMasking } from '../../src/guardrails/mask/compile.js';
import { maskingSchema, type MaskingConfig } from '../../src/guardrails/mask/config.js';
import { matcher, type Matcher } from '../../src/guardrails/mask/matcher.js';
import { builtinPattern, BUILTIN_IDS } from '../../src/guardrails/mask/builtin.js';
import { luhnValid } from '../../src/guardrails/mask/card.js';
import { rng } from './random.js';

/** Seeded, so a failing run repeats. */
const seeded = rng(18);

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function token(length: number, alphabet = ALNUM, next: () => number = seeded): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

/** `prefix` digits completed to `length` with a Luhn check digit. */
export function luhnNumber(prefix: string, length: number, next: () => number = seeded): string {
  let body = prefix;
  while (body.length < length - 1) body += String(Math.floor(next() * 10));
  for (let check = 0; check < 10; check++) {
    const candidate = body + String(check);
    let sum = 0;
    for (let i = candidate.length - 1, dbl = false; i >= 0; i--, dbl = !dbl) {
      let d = Number(candidate[i]);
      if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}

/** A digit that, written in front of (or after) `card`'s digits, makes the longer run fail Luhn. */
export function strayDigit(card: string, where: 'before' | 'after'): string {
  const digits = card.replace(/\D/g, '');
  for (let d = 0; d < 10; d++) {
    const run = where === 'before' ? `${d}${digits}` : `${digits}${d}`;
    if (!luhnValid([...run].map(Number))) return String(d);
  }
  throw new Error('unreachable');
}

/** Same digits, last one changed: fails Luhn. */
export const breakLuhn = (card: string): string => card.slice(0, -1) + String((Number(card.at(-1)) + 1) % 10);

export const grouped = (digits: string, sep: string): string => digits.replace(/(\d{4})(?=\d)/g, `$1${sep}`);

/** One of each api_key shape (docs/guardrails.md lists them). */
export function apiKeys(next: () => number = seeded) {
  const b64url = ALNUM + '-_';
  return {
    openai: `sk-proj-${token(40, ALNUM, next)}7`,
    github: `ghp_${token(36, ALNUM, next)}`,
    github_pat: `github_pat_${token(40, ALNUM + '_', next)}`,
    aws: `AKIA${token(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', next)}`,
    slack: `xoxb-${token(12, '0123456789', next)}-${token(24, ALNUM, next)}`,
    google: `AIza${token(35, b64url, next)}`,
    gitlab: `glpat-${token(20, b64url, next)}`,
    jwt: `eyJ${token(30, b64url, next)}.eyJ${token(60, b64url, next)}.${token(43, b64url, next)}`,
  };
}

export const config = (raw: unknown = {}): MaskingConfig => maskingSchema.parse(raw);
export const compiled = (raw: unknown = {}) => compileMasking(config(raw));
export const allBuiltins = (): Matcher => matcher(BUILTIN_IDS.map(builtinPattern));
