// Issue 13, finding 7: which Check ports count as exposed, and what the warning tells the operator.

import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { plaintextExposures } from '../../../src/app/exposure.js';
import { isLoopbackAddress } from '../../../src/net/listen.js';

const server = (input: unknown) => configSchema.parse({ server: input, policy: { roles: {} } }).server;

describe('plaintextExposures', () => {
  it('defaults to loopback for gRPC and HTTP mode, so nothing is exposed', () => {
    const s = server({ http: { enabled: true } });
    expect(s.grpc.address).toBe('127.0.0.1:9191');
    expect(s.http.address).toBe('127.0.0.1:9193');
    expect(plaintextExposures(s)).toEqual([]);
  });

  it('warns for a plaintext gRPC port and an HTTP-mode port beyond loopback', () => {
    const found = plaintextExposures(server({ grpc: { address: '0.0.0.0:9191' }, http: { enabled: true, address: '[::]:9193' } }));
    expect(found.map((e) => [e.key, e.address, e.acknowledged])).toEqual([
      ['server.grpc', '0.0.0.0:9191', false],
      ['server.http', '[::]:9193', false],
    ]);
    expect(found[0]!.message).toContain('any host that reaches it can claim any principal');
    expect(found[0]!.message).toContain('server.grpc.tls');
    expect(found[1]!.message).toContain('trusts every control header');
  });

  it('does not warn for gRPC with TLS, nor for a disabled HTTP mode', () => {
    const s = server({
      grpc: { address: '0.0.0.0:9191', tls: { cert_file: 'c', key_file: 'k', client_ca_file: 'ca' } },
      http: { enabled: false, address: '0.0.0.0:9193' },
    });
    expect(plaintextExposures(s)).toEqual([]);
  });

  it('an acknowledged exposure stays listed, marked acknowledged', () => {
    const found = plaintextExposures(server({ grpc: { address: '10.0.0.7:9191', allow_plaintext_beyond_loopback: true } }));
    expect(found).toHaveLength(1);
    expect(found[0]!.acknowledged).toBe(true);
    expect(found[0]!.message).toContain('must be protected another way');
  });
});

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1:9191', true],
    ['127.8.9.10:1', true],
    ['localhost:9191', true],
    ['[::1]:9191', true],
    ['0.0.0.0:9191', false],
    ['[::]:9191', false],
    ['10.0.0.7:9191', false],
    ['modelgate:9191', false],
    ['127.0.0.1.evil.example:9191', false],
    ['[::ffff:127.0.0.1]:9191', false],
  ])('%s → %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});
