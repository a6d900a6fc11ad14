// An independent client (Python grpcio on gRPC C-core) talks to a real modelgate over plaintext and
// over TLS with client-certificate verification on the Envoy→modelgate hop.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { CheckRequestType, decodeCheckResponse } from '../../helpers/envoy-wire.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const run = promisify(execFile);
const SCRIPT = 'test/helpers/python_check.py';

const policy = `
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ match: 'spiffe://t/analyst', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`;

function requestHex(principal?: string): string {
  const type = CheckRequestType();
  return Buffer.from(type.encode(type.fromObject(envoyCheckRequest({ principal }))).finish()).toString('hex');
}

async function python(args: string[], lines: string[]): Promise<string[]> {
  const child = run('/usr/bin/python3', [SCRIPT, ...args], { timeout: 20_000 });
  child.child.stdin!.end(`${lines.join('\n')}\n`);
  const { stdout } = await child;
  return stdout.trim().split('\n');
}

describe('python grpcio client', () => {
  let pki: TestPki;
  let plain: TestGate;
  let tls: TestGate;
  beforeAll(async () => {
    pki = createTestPki();
    const server = pki.issue('modelgate', { dns: ['localhost'], ips: ['127.0.0.1'], server: true });
    plain = await startTestGate(policy);
    tls = await startTestGate(
      `server:\n  grpc:\n    tls: { cert_file: '${server.certFile}', key_file: '${server.keyFile}', client_ca_file: '${pki.ca.certFile}' }\n${policy}`,
    );
  });
  afterAll(async () => {
    await plain?.close();
    await tls?.close();
    pki?.cleanup();
  });

  it('gets SERVING from grpc.health.v1 and the same decisions over plaintext', async () => {
    const out = await python([plain.address], [requestHex('spiffe://t/analyst'), requestHex()]);
    expect(out[0]).toBe('health 0801');
    const [allow, deny] = out.slice(1).map((l) => decodeCheckResponse(Buffer.from(l.split(' ')[1]!, 'hex')));
    expect(allow!.status?.code ?? 0).toBe(0);
    expect(allow!.dynamic_metadata.fields.subject.stringValue).toBe('mtls:spiffe://t/analyst');
    expect(deny!.status.code).toBe(16);
    expect(deny!.denied_response.status.code).toBe('Unauthorized');
  });

  it('talks TLS with a client certificate the server verifies', async () => {
    const envoy = pki.issue('envoy', { uris: ['spiffe://modelgate.local/ns/edge/sa/envoy'] });
    const out = await python([tls.address.replace('127.0.0.1', 'localhost'), '--tls', pki.ca.certFile, envoy.certFile, envoy.keyFile], [requestHex('spiffe://t/analyst')]);
    expect(out[0]).toBe('health 0801');
    expect(out[1]!.startsWith('ok ')).toBe(true);
  });

  it('refuses a TLS client without a certificate from the trusted CA', async () => {
    const rogue = createTestPki('rogue CA');
    try {
      const cert = rogue.issue('rogue', { uris: ['spiffe://evil/x'] });
      await expect(
        python([tls.address.replace('127.0.0.1', 'localhost'), '--tls', pki.ca.certFile, cert.certFile, cert.keyFile], [requestHex('spiffe://t/analyst')]),
      ).rejects.toThrow(/UNAVAILABLE|RpcError|handshake|Error/i);
    } finally {
      rogue.cleanup();
    }
  });
});
