// Canonical JSON bytes and SHA-256 hashing: the chain only holds if every writer and verifier agree byte for byte.

import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted (UTF-16 order), no whitespace, `undefined` members dropped.
 * Non-finite numbers throw: they have no JSON form, so two parties could disagree on them.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode ${typeof value}`);
  }
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash a chain entry carries: SHA-256 of its canonical bytes without the `hash` member. */
export function entryHash(entry: Readonly<Record<string, unknown>>): string {
  const { hash: _ignored, ...rest } = entry;
  return sha256Hex(canonicalJson(rest));
}

/** Where the very first record of a store chains from: fixed, so any verifier can check record 1. */
export const GENESIS_HASH = sha256Hex('modelgate audit chain genesis v1');
