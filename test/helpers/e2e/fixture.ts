// The modelgate config the end-to-end tests run behind the shipped Envoy configs: every identity
// source (JWT from a file JWKS, API keys, the dev SPIFFE certificates), a small policy and tight limits.

import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { createApiKey } from '../../../src/identity/api-key.js';
import { jwks, signingKey, signToken, type SigningKey } from '../jwt.js';

export const BATCH_SCORER = 'spiffe://modelgate.local/ns/ml/sa/batch-scorer';
export const FRONTEND = 'spiffe://modelgate.local/ns/web/sa/frontend';

export interface E2eFixture {
  readonly key: SigningKey;
  /** A key the issuer never published: signatures with it are forgeries. */
  readonly forger: SigningKey;
  readonly apiKey: string;
  readonly files: Record<string, string>;
  readonly env: NodeJS.ProcessEnv;
  token(subject: string, roles: string[], extra?: { expiresIn?: number; now?: number; claims?: Record<string, unknown> }): Promise<string>;
  forged(subject: string, roles: string[]): Promise<string>;
}

export async function e2eFixture(): Promise<E2eFixture> {
  const key = await signingKey('ES256', 'k1');
  const forger = await signingKey('ES256', 'k1');
  const secret = randomBytes(32).toString('base64url');
  const reporting = createApiKey(Buffer.from(secret), 'reporting');
  const keys = [{ id: 'reporting', hash: reporting.hash, subject: 'svc:reporting', roles: ['analyst'], attributes: { org: 'finance' } }];
  return {
    key,
    forger,
    apiKey: reporting.key,
    files: { 'jwks.json': jwks(key), 'keys.yaml': stringify({ keys }) },
    env: { E2E_API_KEY_SECRET: secret },
    token: (subject, roles, extra = {}) =>
      signToken(key, { subject, expiresIn: extra.expiresIn, now: extra.now, claims: { roles, org: 'ml-platform', ...extra.claims } }),
    forged: (subject, roles) => signToken(forger, { subject, claims: { roles } }),
  };
}

export interface GateYamlOptions {
  /** Extra YAML appended at the top level (audit, limits overrides). */
  readonly extra?: string;
  /** Replaces the default limits section. */
  readonly limits?: string;
  /** Extra keys under identity.jwt (envoy_jwt_authn). */
  readonly jwtExtra?: string;
}

export function gateYaml(o: GateYamlOptions = {}): string {
  return `
server:
  shutdown_grace_seconds: 1
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
        claims: { attributes: { org: org } }
${o.jwtExtra ?? ''}
  api_keys:
    header: x-api-key
    secret_env: E2E_API_KEY_SECRET
    keys_file: keys.yaml
  mtls:
    sources: [certificate, principal]
    workloads:
      - match: ${BATCH_SCORER}
        roles: [analyst]
        attributes: { org: ml-platform }
policy:
  roles:
    analyst: {}
    data_scientist: {}
  rules:
    - { id: analysts-predict, effect: allow, roles: [analyst], models: [fraud-detector, churn], actions: [predict, read] }
    - { id: scientists-use, effect: allow, roles: [data_scientist], models: ['*'], actions: ['*'] }
    - id: chat-small-tokens
      effect: deny
      models: [chat-*]
      when: 'has(body.max_tokens) && body.max_tokens > 4096'
  targets:
    paths:
      - { pattern: '/v1/models/{model}:predict', methods: [POST], action: predict }
      - { pattern: '/v1/models/{model}', methods: [GET], action: read }
      - { pattern: '/v1/chat/completions', methods: [POST], action: predict, model_from_body: model }
${o.limits ?? `limits:
  buckets:
    - { id: carol-tight, match: { subjects: ['jwt:test:carol'] }, rate: 1, per: minute, burst: 2 }`}
${o.extra ?? ''}
`;
}
