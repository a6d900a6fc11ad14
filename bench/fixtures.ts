// Bench fixtures made at run time: keys, tokens, API keys, modelgate configs, and the framed gRPC
// CheckRequest bodies the load generators send (Envoy-shaped, ~1 KB, ~15 headers).

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
import { envoyCheckRequest } from '../src/grpc/client.js';
import type { PbCheckRequest } from '../src/grpc/envoy-types.js';
import { authorizationServiceDefinition } from '../src/grpc/protos.js';
import { createApiKey } from '../src/identity/api-key.js';

export interface Expect {
  /** CheckResponse.status.code: 0 allow, 16 unauthenticated, 7 permission denied, 8 rate limited. */
  readonly code: number;
  /** The reason code, found verbatim in the response's dynamic metadata. */
  readonly reason: string;
}

export interface Payload {
  readonly name: string;
  /** gRPC length-prefixed message, exactly what goes in the HTTP/2 DATA frame. */
  readonly file: string;
  readonly bytes: number;
  readonly headerCount: number;
  readonly request: PbCheckRequest;
  readonly expect: Expect;
}

export interface Fixtures {
  readonly dir: string;
  readonly payloads: Record<PayloadName, Payload>;
  /** modelgate config with the in-memory limiter, or with Redis at `redisUrl`; admin (metrics) on `adminPort`. */
  configFile(adminPort: number, redisUrl?: string): string;
}

export type PayloadName = 'api_key' | 'jwt_es256' | 'jwt_rs256' | 'mtls_san' | 'no_credential' | 'bad_signature' | 'over_limit';

const ISSUER = 'https://issuer.bench';
const ALLOW: Expect = { code: 0, reason: 'allowed' };

/** Headers Envoy and a typical client add on top of `envoyCheckRequest`'s defaults. */
function envoyHeaders(extra: Record<string, string>): Record<string, string> {
  return {
    'accept-encoding': 'gzip, deflate, br',
    'content-length': '412',
    'x-forwarded-for': '203.0.113.24, 10.0.3.17',
    'x-envoy-external-address': '203.0.113.24',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'x-b3-sampled': '0',
    ...extra,
  };
}

function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

export async function makeFixtures(dir: string): Promise<Fixtures> {
  const es = await generateKeyPair('ES256', { extractable: true });
  const rs = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = async (k: Key, kid: string, alg: string) => ({ ...(await exportJWK(k)), kid, alg, use: 'sig' });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [await jwk(es.publicKey, 'es', 'ES256'), await jwk(rs.publicKey, 'rs', 'RS256')] }));
  const sign = (key: Key, alg: string, kid: string) =>
    new SignJWT({ roles: ['analyst'], org: 'ml-platform', tier: 'gold' })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience('modelgate')
      .setSubject('user:alice@example.com')
      .setIssuedAt()
      .setExpirationTime('4h')
      .sign(key);
  const es256 = await sign(es.privateKey, 'ES256', 'es');
  const rs256 = await sign(rs.privateKey, 'RS256', 'rs');
  // Same header and payload, signature of another key: the verifier must do the full work to refuse it.
  const forged = `${es256.slice(0, es256.lastIndexOf('.'))}.${(await sign((await generateKeyPair('ES256')).privateKey, 'ES256', 'es')).split('.')[2]}`;

  const secret = randomBytes(32);
  writeFileSync(join(dir, 'api-key-secret'), secret.toString('base64url'));
  const secretBytes = Buffer.from(secret.toString('base64url'), 'utf8');
  const good = createApiKey(secretBytes, 'bench-bot');
  const limited = createApiKey(secretBytes, 'limited-bot');

  const def = authorizationServiceDefinition().Check!;
  const payload = (name: PayloadName, expect: Expect, headers: Record<string, string>, principal?: string): Payload => {
    const request = envoyCheckRequest({ path: '/v1/models/fraud-detector:predict', headers: envoyHeaders(headers), principal });
    const message = def.requestSerialize(request);
    const file = join(dir, `${name}.grpc`);
    writeFileSync(file, frame(message));
    const headerCount = Object.keys(request.attributes!.request!.http!.headers!).length;
    return { name, file, bytes: message.length, headerCount, request, expect };
  };
  const payloads: Record<PayloadName, Payload> = {
    api_key: payload('api_key', ALLOW, { 'x-api-key': good.key }),
    jwt_es256: payload('jwt_es256', ALLOW, { authorization: `Bearer ${es256}` }),
    jwt_rs256: payload('jwt_rs256', ALLOW, { authorization: `Bearer ${rs256}` }),
    // Envoy's source.principal: the first URI SAN of the verified client certificate.
    mtls_san: payload('mtls_san', ALLOW, { 'x-client-trace-id': 'c-1' }, 'spiffe://bench.local/ns/ml/sa/batch-scorer'),
    no_credential: payload('no_credential', { code: 16, reason: 'no_credential' }, { 'x-client-trace-id': 'c-1' }),
    bad_signature: payload('bad_signature', { code: 16, reason: 'token_signature_invalid' }, { authorization: `Bearer ${forged}` }),
    over_limit: payload('over_limit', { code: 8, reason: 'rate_limited' }, { 'x-api-key': limited.key }),
  };

  const keys = [
    { id: 'bench-bot', hash: good.hash, subject: 'svc:bench-bot', roles: ['analyst'], attributes: { org: 'ml-platform' } },
    { id: 'limited-bot', hash: limited.hash, subject: 'svc:limited-bot', roles: ['analyst'], attributes: { org: 'ml-platform' } },
  ];
  const configFile = (adminPort: number, redisUrl?: string) => {
    const file = join(dir, `modelgate-${redisUrl ? 'redis' : 'memory'}-${adminPort}.yaml`);
    writeFileSync(file, config(keys, adminPort, redisUrl));
    return file;
  };
  return { dir, payloads, configFile };
}

function config(keys: object[], adminPort: number, redisUrl: string | undefined): string {
  return `# generated by bench/fixtures.ts
server: { admin: { enabled: true, address: '127.0.0.1:${adminPort}' }, shutdown_grace_seconds: 2 }
log: { level: info, decisions: true }
identity:
  order: [jwt, api_key, mtls]
  jwt:
    issuers:
      - { name: bench, issuer: '${ISSUER}', audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256, RS256], claims: { attributes: { org: org, tier: tier } } }
  api_keys:
    secret_file: api-key-secret
    keys: ${JSON.stringify(keys)}
  mtls:
    sources: [certificate, principal]
    workloads:
      - { match: 'spiffe://bench.local/ns/ml/sa/batch-scorer', roles: [analyst], attributes: { org: ml-platform } }
      - { pattern: 'spiffe://bench.local/ns/ml/sa/*', roles: [viewer] }
policy:
  roles: { admin: null, data_scientist: null, analyst: null, viewer: null }
  rules:
    - { id: admin-all, effect: allow, roles: [admin] }
    - { id: ds-use, effect: allow, roles: [data_scientist], models: [fraud-detector, churn, 'chat-*'], actions: [predict, evaluate, read, train] }
    - { id: analysts-predict, effect: allow, roles: [analyst], models: [fraud-detector, churn], actions: [predict, read] }
    - { id: viewers-read, effect: allow, roles: [viewer], actions: [read] }
    - { id: train-only-ml-platform, effect: deny, actions: [train], when: '!("org" in subject.attributes) || subject.attributes.org != "ml-platform"' }
    - { id: no-debug-header, effect: deny, models: ['fraud-*'], when: '"x-debug" in request.headers && request.headers["x-debug"] == "1"' }
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', methods: [POST], action: predict }
      - { pattern: '/v1/models/{model}', methods: [GET], action: read }
limits:
  ${redisUrl ? `redis: { url: '${redisUrl}', timeout_ms: 100 }` : ''}
  buckets:
    # Large enough never to deny: the rows measure the cost of charging, not of refusing.
    - { id: per-subject, match: { roles: [analyst] }, rate: 1000000000, per: second, burst: 1000000000 }
    - { id: per-subject-model, match: { roles: [analyst] }, rate: 1000000000, per: second, burst: 1000000000, per_model: true }
    - { id: limited, match: { subjects: ['api_key:svc:limited-bot'] }, rate: 1, per: day, burst: 1 }
`;
}
