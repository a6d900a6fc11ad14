// Parsing of the connection URL forms and of the operator's load-factor value.

import { describe, expect, it } from 'vitest';
import { parseClusterUrl, redactUrl } from '../../../src/ratelimit/redis-connection.js';
import { parseLoadFactor } from '../../../src/ratelimit/load-factor.js';

describe('redis urls', () => {
  it('reads cluster seed nodes, credentials and TLS from a +cluster url', () => {
    expect(parseClusterUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001')).toEqual({
      tls: false,
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }],
    });
    expect(parseClusterUrl('rediss+cluster://app:s%40cret@[::1]:7000,redis-b')).toEqual({
      tls: true,
      username: 'app',
      password: 's@cret',
      nodes: [{ host: '::1', port: 7000 }, { host: 'redis-b', port: 6379 }],
    });
    expect(parseClusterUrl('rediss+cluster://:only-password@h:1')).toMatchObject({ password: 'only-password', username: undefined });
    expect(parseClusterUrl('redis://h:1')).toBeUndefined();
    expect(() => parseClusterUrl('redis+cluster://h:x')).toThrow("bad cluster node 'h:x'");
  });

  it('never prints a password', () => {
    expect(redactUrl('rediss://app:secret@h:1/0')).toBe('rediss://app:***@h:1/0');
    expect(redactUrl('redis+cluster://:secret@a:1,b:2')).toBe('redis+cluster://:***@a:1,b:2');
    expect(redactUrl('redis://h:1')).toBe('redis://h:1');
  });
});

describe('load factor', () => {
  it('means "no scaling" when missing or unparsable and is clamped to [min, 1]', () => {
    expect(parseLoadFactor(null, 0.05)).toBe(1);
    expect(parseLoadFactor('hot', 0.05)).toBe(1);
    expect(parseLoadFactor('0.5', 0.05)).toBe(0.5);
    expect(parseLoadFactor('0', 0.05)).toBe(0.05);
    expect(parseLoadFactor('7', 0.05)).toBe(1);
  });
});
