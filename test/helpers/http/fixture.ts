// Shared setup for the HTTP-mode tests: a test CA with client certs, a JWT issuer, and the
// modelgate config both the direct (Envoy http_service shape) and the nginx tests run.

import { createTestPki, type CertFiles, type TestPki } from '../pki.js';
import { jwks, signingKey, signToken, type SigningKey } from '../jwt.js';

export const SCORER = 'spiffe://test.local/ns/ml/sa/scorer';
export const INTRUDER = 'spiffe://test.local/ns/other/sa/intruder';

export interface HttpFixture {
  readonly pki: TestPki;
  readonly server: CertFiles;
  /** Mapped to role analyst (may predict/read fraud-detector), tenant ml. */
  readonly scorer: CertFiles;
  /** Signed by the same CA, SAN mapped to nothing. */
  readonly intruder: CertFiles;
  readonly key: SigningKey;
  readonly files: Record<string, string>;
  token(subject: string, roles: string[]): Promise<string>;
}

export async function createHttpFixture(): Promise<HttpFixture> {
  const pki = createTestPki();
  const key = await signingKey('ES256', 'k1');
  return {
    pki,
    server: pki.issue('nginx', { dns: ['localhost'], ips: ['127.0.0.1'], server: true }),
    scorer: pki.issue('scorer', { uris: [SCORER] }),
    intruder: pki.issue('intruder', { uris: [INTRUDER] }),
    key,
    files: { 'jwks.json': jwks(key) },
    token: (subject, roles) => signToken(key, { subject, claims: { roles } }),
  };
}

export const GATE_YAML = `
server:
  http:
    enabled: true
    address: 127.0.0.1:0
    path_prefix: /check
log:
  level: info
identity:
  order: [jwt, api_key, mtls]
  jwt:
    issuers:
      - name: test
        issuer: https://issuer.test
        audiences: [modelgate]
        jwks_file: jwks.json
        algorithms: [ES256]
  mtls:
    sources: [certificate]
    workloads:
      - match: ${SCORER}
        roles: [analyst]
        attributes: { org: ml }
policy:
  roles:
    analyst: {}
    data_scientist: {}
  rules:
    - { id: analysts-predict, effect: allow, roles: [analyst], models: [fraud-detector], actions: [predict, read] }
    - { id: scientists-use, effect: allow, roles: [data_scientist], models: [fraud-detector, chat-*], actions: [predict, read] }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', methods: [POST], action: predict }
      - { pattern: '/v1/models/{model}', methods: [GET], action: read }
      - { pattern: '/v1/chat/completions', methods: [POST], action: predict, model_from_body: model }
limits:
  buckets:
    - { id: carol-tight, match: { subjects: ['jwt:test:carol'] }, rate: 1, per: minute, burst: 2 }
`;
