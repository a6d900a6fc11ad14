// The API-key source with keys minted at test time: only the holder of the exact key resolves, and
// a disabled or expired key is refused with its own reason (told only to a caller holding the key).

import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { apiKeyId, apiKeySource, createApiKey } from '../../../src/identity/api-key.js';
import type { IdentityResult } from '../../../src/identity/result.js';
import { checkInput } from '../../helpers/check-input.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const secret = Buffer.from('a server secret of enough bytes');
const good = createApiKey(secret, 'svc-a');
const off = createApiKey(secret, 'svc-b');
const old = createApiKey(secret, 'svc-c');

const config = configSchema.parse({
  policy: { roles: {} },
  identity: {
    api_keys: {
      keys: [
        { id: 'svc-a', hash: good.hash, subject: 'billing', roles: ['reader'], attributes: { org: 'acme' } },
        { id: 'svc-b', hash: off.hash, subject: 'old-batch', disabled: true },
        { id: 'svc-c', hash: old.hash, subject: 'trial', expires_at: '2026-03-01T11:59:59Z' },
      ],
    },
  },
}).identity.api_keys!;
const source = apiKeySource(config, config.keys, secret);
const resolve = (key: string): IdentityResult => source.resolve(checkInput({ headers: { 'x-api-key': key } }), NOW) as IdentityResult;
const reasonOf = (r: IdentityResult) => (r.ok ? 'ok' : r.reason);

describe('apiKeySource', () => {
  it('resolves the exact key to its qualified subject, roles and attributes', () => {
    expect(resolve(good.key)).toEqual({ ok: true, identity: { subject: 'api_key:billing', method: 'api_key', roles: ['reader'], attributes: { org: 'acme' }, issuer: 'svc-a' } });
    expect(resolve(` ${good.key} `)).toMatchObject({ ok: true });
  });

  it('is present whenever its header is, so a bad key is never skipped for another source', () => {
    expect(source.present(checkInput({ headers: { 'x-api-key': '' } }))).toBe(true);
    expect(source.present(checkInput({ headers: { authorization: 'Bearer x' } }))).toBe(false);
    expect(source.credentialHeaders).toEqual(['x-api-key']);
  });

  it('refuses a wrong secret, an unknown id, an empty and an over-long key as api_key_invalid', () => {
    expect(reasonOf(resolve(`${good.key.slice(0, -1)}${good.key.endsWith('A') ? 'B' : 'A'}`))).toBe('api_key_invalid');
    expect(reasonOf(resolve(good.key.replace('svc-a', 'svc-z')))).toBe('api_key_invalid');
    expect(reasonOf(resolve('not-a-modelgate-key'))).toBe('api_key_invalid');
    expect(reasonOf(resolve('   '))).toBe('api_key_invalid');
    expect(reasonOf(resolve(`mgk_svc-a_${'x'.repeat(300)}`))).toBe('api_key_invalid');
  });

  it('refuses a disabled key and a key past its expiry (injected clock), with their reasons', () => {
    expect(reasonOf(resolve(off.key))).toBe('api_key_disabled');
    expect(reasonOf(resolve(old.key))).toBe('api_key_expired');
    expect(reasonOf(source.resolve(checkInput({ headers: { 'x-api-key': old.key } }), Date.parse('2026-03-01T11:00:00Z')) as IdentityResult)).toBe('ok');
  });

  it('reads the id up to the first underscore after the prefix', () => {
    expect(apiKeyId('mgk_svc-a_abc_def')).toBe('svc-a');
    expect(apiKeyId('mgk__abc')).toBeUndefined();
    expect(apiKeyId('key_svc-a_abc')).toBeUndefined();
  });
});
