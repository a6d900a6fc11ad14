// Environment overrides: typed values, sources for `modelgate validate`, and no implicit features.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { describeSettings } from '../../../src/config/env.js';

const base = `
server: { grpc: { address: 0.0.0.0:9191 } }
policy: { roles: {} }
`;

describe('env overrides', () => {
  it('override addresses, log level and booleans, and record where each setting came from', () => {
    const loaded = parseConfig(base, 'm.yaml', {
      MODELGATE_GRPC_ADDRESS: '127.0.0.1:7000',
      MODELGATE_ADMIN_ADDRESS: '0.0.0.0:7002',
      MODELGATE_ADMIN_ENABLED: 'false',
      MODELGATE_LOG_LEVEL: 'debug',
      MODELGATE_LOG_REDACT_HEADERS: 'x-a, x-b',
      MODELGATE_SHUTDOWN_GRACE_SECONDS: '3',
    });
    const c = loaded.config;
    expect(c.server.grpc.address).toBe('127.0.0.1:7000');
    expect(c.server.admin).toEqual({ enabled: false, address: '0.0.0.0:7002' });
    expect(c.log.level).toBe('debug');
    expect(c.log.redact_headers).toEqual(['x-a', 'x-b']);
    expect(c.server.shutdown_grace_seconds).toBe(3);
    expect(loaded.sources.get('server.grpc.address')).toBe('env:MODELGATE_GRPC_ADDRESS');
    expect(loaded.sources.get('server.http.address')).toBe('default');
    expect(parseConfig(base, 'm.yaml', {}).sources.get('server.grpc.address')).toBe('file');
  });

  it('reports a bad value at its key path instead of guessing', () => {
    expect(() => parseConfig(base, 'm.yaml', { MODELGATE_ADMIN_ENABLED: 'maybe' })).toThrow(/server\.admin\.enabled/);
    expect(() => parseConfig(base, 'm.yaml', { MODELGATE_LOG_LEVEL: 'loud' })).toThrow(/log\.level/);
  });

  it('moves secret file paths only for a section the file configures', () => {
    const without = parseConfig(base, 'm.yaml', { MODELGATE_API_KEY_SECRET_FILE: '/run/secrets/k' });
    expect(without.config.identity.api_keys).toBeUndefined();
    const withKeys = parseConfig(`${base}identity: { api_keys: { keys: [] } }\n`, 'm.yaml', {
      MODELGATE_API_KEY_SECRET_FILE: '/run/secrets/k',
      MODELGATE_API_KEYS_FILE: '/etc/modelgate/keys.yaml',
    });
    expect(withKeys.config.identity.api_keys?.secret_file).toBe('/run/secrets/k');
    expect(withKeys.config.identity.api_keys?.keys_file).toBe('/etc/modelgate/keys.yaml');
    const lines = describeSettings(withKeys.config, withKeys.sources, {});
    expect(lines).toContain('identity.api_keys.secret_file = /run/secrets/k  (env:MODELGATE_API_KEY_SECRET_FILE)');
    expect(lines).toContain('identity.api_keys secret: read from file /run/secrets/k  (path from env:MODELGATE_API_KEY_SECRET_FILE)');
  });

  it('names the secret env var and whether it is set, never its value', () => {
    const loaded = parseConfig(`${base}identity: { api_keys: { keys: [] } }\n`, 'm.yaml', {});
    const env = { MODELGATE_API_KEY_SECRET: 'do-not-print-this-secret' };
    const lines = describeSettings(loaded.config, loaded.sources, env).join('\n');
    expect(lines).toContain('identity.api_keys secret: read from env MODELGATE_API_KEY_SECRET  (set)');
    expect(lines).not.toContain('do-not-print');
  });

  it('takes the Redis URL from MODELGATE_REDIS_URL when limits are configured, and never prints its password', () => {
    const cfg = `${base}limits: { buckets: [{ id: b, rate: 1 }] }\n`;
    const loaded = parseConfig(cfg, 'm.yaml', { MODELGATE_REDIS_URL: 'redis://default:hunter2-secret@redis:6379' });
    expect(loaded.config.limits?.redis.url).toBe('redis://default:hunter2-secret@redis:6379');
    const lines = describeSettings(loaded.config, loaded.sources, {}).join('\n');
    expect(lines).toContain('limits.redis.url = redis://default:***@redis:6379  (env:MODELGATE_REDIS_URL)');
    expect(lines).not.toContain('hunter2');
    expect(parseConfig(base, 'm.yaml', { MODELGATE_REDIS_URL: 'redis://x:1' }).config.limits).toBeUndefined();
  });
});
