// Issue 13, finding 11: one header rule in both modes. A client certificate whose URI SAN holds
// CR, LF and NUL (signed by a trusted CA; Node hands the SAN over JSON-decoded) or a trailing
// space becomes the subject; gRPC mode used to put it raw into x-modelgate-subject (Envoy with
// validate_mutations then fails the whole answer with a 500), HTTP mode escaped it differently.
// Both modes now send the same escaped value, over real sockets.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { isHeaderValue } from '../../../src/decision/header-value.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const YAML = `
server:
  http:
    enabled: true
    address: 127.0.0.1:0
identity:
  order: [mtls]
  mtls:
    sources: [certificate]
policy:
  roles: {}
  rules:
    - { id: anyone, effect: allow }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', methods: [POST], action: predict }
`;

/** A CA-signed client certificate whose only SAN is `uri`, written as raw DER so any byte fits. */
function certWithUri(pki: TestPki, name: string, uri: string): string {
  const bytes = Buffer.from(uri, 'latin1');
  const general = Buffer.concat([Buffer.from([0x86, bytes.length]), bytes]);
  const der = Buffer.concat([Buffer.from([0x30, general.length]), general]);
  const hex = [...der].map((b) => b.toString(16).padStart(2, '0')).join(':');
  writeFileSync(join(pki.dir, `${name}.ext`), `basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=DER:${hex}\n`);
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  return readFileSync(join(pki.dir, `${name}.crt`), 'utf8');
}

function httpCheck(port: number, pem: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; raw: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/models/m:predict', headers: { 'x-ssl-client-cert': encodeURIComponent(pem) }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: res.rawHeaders }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let pki: TestPki;
let t: TestGate;
beforeAll(async () => {
  pki = createTestPki();
  t = await startTestGate(YAML);
});
afterAll(async () => {
  await t?.close();
  pki?.cleanup();
});

describe('identity header values in gRPC and HTTP mode (issue 13, finding 11)', () => {
  it.each([
    ['CR, LF and NUL', 'crlf', 'spiffe://t/a\r\nx-injected: 1\u0000', 'spiffe://t/a\\u000d\\u000ax-injected: 1\\u0000'],
    ['a trailing space', 'space', 'spiffe://t/b ', 'spiffe://t/b\\u0020'],
    ['a DEL and a tab', 'del', 'spiffe://t/c\u007f\td', 'spiffe://t/c\\u007f\td'],
  ])('escapes %s the same way in both modes', async (_what, name, san, escaped) => {
    const pem = certWithUri(pki, name, san);

    const grpc = await t.client.check(envoyCheckRequest({ certificatePem: pem }));
    expect(grpc.status.code).toBe(0);
    const grpcSubject = grpc.ok_response!.headers!.find((h) => h.header!.key === 'x-modelgate-subject')!.header!.value!;
    expect(isHeaderValue(grpcSubject)).toBe(true);
    expect(grpcSubject.endsWith(escaped)).toBe(true);

    const http = await httpCheck(t.gate.httpPort!, pem);
    expect(http.status).toBe(200);
    const i = http.raw.findIndex((k, n) => n % 2 === 0 && k.toLowerCase() === 'x-modelgate-subject');
    expect(http.raw[i + 1]).toBe(grpcSubject);
    // The injected line never became a header of its own.
    expect(http.headers['x-injected']).toBeUndefined();
  });
});
