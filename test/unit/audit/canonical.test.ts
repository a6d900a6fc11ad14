// Canonical bytes and chain hashes: the same record must hash the same no matter how it was built.

import { describe, expect, it } from 'vitest';
import { canonicalJson, entryHash, GENESIS_HASH, sha256Hex } from '../../../src/audit/canonical.js';
import { chain } from '../../../src/audit/chain-entry.js';
import { makeRecord } from '../../helpers/audit/traffic.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('is independent of insertion order and escapes strings as JSON does', () => {
    expect(canonicalJson({ x: 'é"\n', y: null })).toBe(canonicalJson({ y: null, x: 'é"\n' }));
    expect(canonicalJson({ x: 'é"\n' })).toBe('{"x":"é\\"\\n"}');
  });

  it('refuses values without a single JSON form', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/non-finite/);
    expect(() => canonicalJson({ n: Infinity })).toThrow(/non-finite/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/cannot encode/);
  });
});

describe('chain entries', () => {
  it('hash their canonical bytes without the hash member, and link to the previous hash', () => {
    const record = makeRecord({ time: '2025-01-01T00:00:00.000Z' });
    const first = chain({ type: 'record', record }, 1, GENESIS_HASH);
    const second = chain({ type: 'record', record }, 2, first.hash);
    expect(first.prev).toBe(GENESIS_HASH);
    expect(second.prev).toBe(first.hash);
    expect(first.hash).toBe(sha256Hex(canonicalJson({ type: 'record', record, seq: 1, prev: GENESIS_HASH })));
    expect(entryHash(first as unknown as Record<string, unknown>)).toBe(first.hash);
    expect(second.hash).not.toBe(first.hash);
  });

  it('changes the hash when any field changes', () => {
    const a = chain({ type: 'record', record: makeRecord({ time: '2025-01-01T00:00:00.000Z', request_id: 'r' }) }, 1, GENESIS_HASH);
    const b = chain({ type: 'record', record: { ...(a as { record: ReturnType<typeof makeRecord> }).record, response_code: 201 } }, 1, GENESIS_HASH);
    expect(a.hash).not.toBe(b.hash);
  });
});
