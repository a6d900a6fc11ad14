// API-key identity: keys of the form mgk_<id>_<secret>, stored only as HMAC-SHA-256 under a server
// secret, found by id in O(1) and compared in constant time.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, ApiKeysConfig } from '../config/schema.js';
import type { Identity } from './identity.js';
import { apiKeySubject } from './subject.js';
import { identityDenied, type IdentityResult, type IdentitySource } from './result.js';

export const API_KEY_PREFIX = 'mgk_';
const MAX_KEY_LENGTH = 256;
const MAX_VERIFIED = 10_000;

interface StoredKey {
  readonly hash: Buffer;
  readonly identity: Identity;
  readonly expiresAtMs?: number;
  readonly disabled: boolean;
}

export function hashApiKey(secret: Buffer, key: string): Buffer {
  return createHmac('sha256', secret).update(key).digest();
}

/** A fresh key and the config entry that stores it; the key itself is shown once and kept nowhere. */
export function createApiKey(secret: Buffer, id: string): { key: string; hash: string } {
  const key = `${API_KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(secret, key).toString('hex') };
}

/** `mgk_<id>_<secret>`: ids never contain `_`, so the first `_` after the prefix ends the id. */
export function apiKeyId(key: string): string | undefined {
  if (!key.startsWith(API_KEY_PREFIX)) return undefined;
  const end = key.indexOf('_', API_KEY_PREFIX.length);
  return end > API_KEY_PREFIX.length ? key.slice(API_KEY_PREFIX.length, end) : undefined;
}

export function apiKeySource(config: ApiKeysConfig, keys: readonly ApiKeyConfig[], secret: Buffer): IdentitySource {
  const header = config.header.toLowerCase();
  const byId = new Map<string, StoredKey>();
  for (const k of keys) {
    byId.set(k.id, {
      hash: Buffer.from(k.hash, 'hex'),
      identity: { subject: apiKeySubject(k.subject), method: 'api_key', roles: k.roles, attributes: k.attributes, issuer: k.id },
      expiresAtMs: k.expires_at ? Date.parse(k.expires_at) : undefined,
      disabled: k.disabled,
    });
  }
  // Unknown ids still pay for one HMAC and one comparison, so timing does not reveal which ids exist.
  const decoy = Buffer.alloc(32);
  // Keys that matched their hash, by exact text: a repeat skips the HMAC. Only a caller holding a
  // real key can hit, so the faster answer tells nothing new; bounded, emptied when full. Status and
  // expiry are still checked on every request below.
  const verified = new Map<string, StoredKey>();

  return {
    name: 'api_key',
    credentialHeaders: [header],
    present: (input) => input.headers[header] !== undefined,
    carrier: () => `${header} header`,
    resolve(input, nowMs): IdentityResult {
      const key = input.headers[header]!.trim();
      if (key.length === 0 || key.length > MAX_KEY_LENGTH) return identityDenied('api_key_invalid', 'bad length');
      let stored = verified.get(key);
      if (!stored) {
        const id = apiKeyId(key);
        const candidate = id !== undefined ? byId.get(id) : undefined;
        const actual = hashApiKey(secret, key);
        const matches = timingSafeEqual(actual, candidate?.hash ?? decoy) && candidate !== undefined;
        if (!matches) return identityDenied('api_key_invalid', candidate ? 'hash mismatch' : 'unknown key id');
        if (verified.size >= MAX_VERIFIED) verified.clear();
        verified.set(key, candidate);
        stored = candidate;
      }
      // Status is revealed only to a caller who holds the real key.
      if (stored.disabled) return identityDenied('api_key_disabled');
      if (stored.expiresAtMs !== undefined && stored.expiresAtMs <= nowMs) return identityDenied('api_key_expired');
      return { ok: true, identity: stored.identity };
    },
  };
}
