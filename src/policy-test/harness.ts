// Runs requests through the real pipeline (checkedStages + createAuthorizer) without a server and
// without the deployment's secrets: a throwaway JWT key stands in for every issuer's keys, a
// random HMAC secret for the API-key secret, the in-memory limiter for Redis, a fixed clock.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { checkedStages } from '../app/load-stages.js';
import { readKeysFile } from '../config/keys-file.js';
import type { LoadedConfig } from '../config/load.js';
import type { ApiKeyConfig, Config, JwtIssuerConfig } from '../config/schema.js';
import type { Answer } from '../decision/answer.js';
import type { Decision } from '../decision/decision.js';
import { envoyCheckRequest } from '../grpc/client.js';
import { checkInputFromMessage } from '../grpc/decode-message.js';
import type { Identity } from '../identity/identity.js';
import type { IdentitySource } from '../identity/result.js';
import { createApiKey } from '../identity/api-key.js';
import { createAuthorizer, type StagesRef } from '../pipeline/authorizer.js';
import type { CheckInput } from '../check/check-input.js';
import type { CheckTrace } from '../check/trace.js';
import { createLimiter } from '../ratelimit/create-limiter.js';
import { unlimited, type Limiter } from '../ratelimit/limiter.js';
import type { CaseRequest, TestApiKey } from './test-file.js';

export interface HarnessOptions {
  readonly nowMs: number;
  /** Test-only API keys, added to (and overriding) the config's by id. */
  readonly apiKeys?: readonly TestApiKey[];
  /**
   * Keep the deployment's real identity (keys, secrets from `env`): for explaining a request that
   * carries a real token or API key. Test identities (`jwt_claims`, `api_key_id`) then do not work.
   */
  readonly realIdentity?: { readonly env: NodeJS.ProcessEnv };
}

export interface HarnessRun {
  readonly input: CheckInput;
  readonly answer: Answer;
  readonly decision: Decision;
  readonly trace: CheckTrace;
  /** The config's identity sources, in order (the real ones even when the run used a fixed identity). */
  readonly identitySources: readonly IdentitySource[];
}

export interface Harness {
  readonly config: Config;
  setNow(ms: number): void;
  /** The CheckInput for a test request, decoded from an Envoy-shaped CheckRequest like the server does. */
  input(request: CaseRequest, requestId: string): Promise<CheckInput>;
  run(input: CheckInput, request?: Pick<CaseRequest, 'identity'>): Promise<HarnessRun>;
  close(): Promise<void>;
}

const TEST_SECRET_ENV = 'MODELGATE_TEST_API_KEY_SECRET';
const PREFERRED_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
type SigningKey = { kid: string; alg: string; privateKey: PrivateKey };

export async function createHarness(loaded: LoadedConfig, options: HarnessOptions): Promise<Harness | { problems: string[] }> {
  let nowMs = options.nowMs;
  const now = () => nowMs;
  const config = structuredClone(loaded.config) as Config;
  const dir = options.realIdentity ? undefined : mkdtempSync(join(tmpdir(), 'modelgate-policy-test-'));
  const signers = new Map<string, SigningKey>();
  const apiKeys = new Map<string, string>();
  let env: NodeJS.ProcessEnv = options.realIdentity?.env ?? {};

  try {
    if (dir) env = await replaceSecrets(config, loaded, dir, signers, apiKeys, options.apiKeys ?? []);
  } catch (error) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    return { problems: [(error as Error).message] };
  }
  const limiter: Limiter = config.limits
    ? createLimiter({ ...config.limits, redis: { ...config.limits.redis, url: undefined } })
    : unlimited;
  const built = checkedStages({ ...loaded, config }, { env, now, limiter });
  if (!built.ok) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    return { problems: [...built.error.lines] };
  }
  await built.warm();
  const ref: StagesRef = { current: built.stages };
  const noLog = () => {};
  const authorize = createAuthorizer(ref, { log: noLog });

  const byName = new Map((config.identity.jwt?.issuers ?? []).map((i) => [i.name, i]));
  const issuerFor = (request: CaseRequest): JwtIssuerConfig => {
    const issuers = config.identity.jwt?.issuers ?? [];
    const named = request.issuer ? byName.get(request.issuer) : issuers.find((i) => i.issuer === request.jwt_claims?.iss);
    const issuer = named ?? issuers[0];
    if (!issuer) throw new Error('jwt_claims given but the config has no identity.jwt issuers');
    if (request.issuer && !named) throw new Error(`unknown issuer name '${request.issuer}'`);
    return issuer;
  };

  return {
    config: loaded.config,
    setNow: (ms) => {
      nowMs = ms;
    },
    async input(request, requestId) {
      const headers: Record<string, string> = { ...lowerKeys(request.headers) };
      if (request.jwt_claims) {
        if (options.realIdentity) throw new Error('jwt_claims needs test identities, not the real keys');
        const issuer = issuerFor(request);
        const key = signers.get(issuer.name)!;
        headers[(config.identity.jwt?.header ?? 'authorization').toLowerCase()] = `Bearer ${await mint(key, issuer, request.jwt_claims, nowMs)}`;
      }
      if (request.api_key_id) {
        const header = config.identity.api_keys?.header.toLowerCase();
        if (!header) throw new Error('api_key_id given but the config has no identity.api_keys');
        if (options.realIdentity) throw new Error('api_key_id needs test identities, not the real secret');
        // An id nobody configured still sends a well-formed key, which the real source rejects.
        headers[header] = apiKeys.get(request.api_key_id) ?? `mgk_${request.api_key_id}_${randomBytes(16).toString('base64url')}`;
      }
      const body = request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
      const pb = envoyCheckRequest({
        method: request.method,
        path: request.path,
        host: request.host,
        headers,
        body,
        partialBody: request.partial_body,
        principal: request.principal,
        contextExtensions: request.context_extensions,
        requestId,
      });
      const input = checkInputFromMessage(pb);
      if (!input) throw new Error('request could not be decoded');
      return input;
    },
    async run(input, request) {
      const trace: CheckTrace = { rules: [] };
      const fixed = request?.identity;
      const target = fixed
        ? createAuthorizer({ current: { ...ref.current, identity: fixedIdentity(ref.current.identity.credentialHeaders, fixed) } }, { log: noLog })
        : authorize;
      const outcome = await target(input, trace);
      return { input, answer: outcome.answer, decision: outcome.decision, trace, identitySources: ref.current.identity.sources ?? [] };
    },
    async close() {
      await limiter.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Rewrites the identity config in memory to use test keys; returns the env the build reads secrets from. */
async function replaceSecrets(
  config: Config,
  loaded: LoadedConfig,
  dir: string,
  signers: Map<string, SigningKey>,
  apiKeys: Map<string, string>,
  testKeys: readonly TestApiKey[],
): Promise<NodeJS.ProcessEnv> {
  const jwt = config.identity.jwt as { issuers: JwtIssuerConfig[] } | undefined;
  if (jwt) {
    const publicKeys: object[] = [];
    const byAlg = new Map<string, SigningKey>();
    for (const issuer of jwt.issuers) {
      const alg = PREFERRED_ALGS.find((a) => issuer.algorithms.includes(a)) ?? issuer.algorithms[0]!;
      let key = byAlg.get(alg);
      if (!key) {
        const pair = await generateKeyPair(alg, { extractable: true });
        key = { kid: `policy-test-${alg.toLowerCase()}`, alg, privateKey: pair.privateKey };
        publicKeys.push({ ...(await exportJWK(pair.publicKey)), kid: key.kid, alg, use: 'sig' });
        byAlg.set(alg, key);
      }
      signers.set(issuer.name, key);
    }
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: publicKeys }));
    jwt.issuers = jwt.issuers.map((i) => ({ ...i, jwks_file: jwksFile, jwks_uri: undefined, discovery_url: undefined }));
  }
  const env: NodeJS.ProcessEnv = {};
  const cfg = config.identity.api_keys;
  if (cfg) {
    const secret = randomBytes(32).toString('base64url');
    env[TEST_SECRET_ENV] = secret;
    const keys = new Map<string, Omit<ApiKeyConfig, 'hash'>>();
    for (const k of cfg.keys) keys.set(k.id, k);
    for (const k of readKeysFileQuietly(loaded, cfg.keys_file)) if (!keys.has(k.id)) keys.set(k.id, k);
    for (const k of testKeys) keys.set(k.id, k);
    const hashed: ApiKeyConfig[] = [];
    for (const k of keys.values()) {
      const { key, hash } = createApiKey(Buffer.from(secret), k.id);
      apiKeys.set(k.id, key);
      hashed.push({ ...k, hash });
    }
    Object.assign(cfg, { secret_env: TEST_SECRET_ENV, secret_file: undefined, keys_file: undefined, keys: hashed });
  }
  return env;
}

/** The operator's keys file, when present; a missing one (say, generated only on a dev machine) is not an error here. */
function readKeysFileQuietly(loaded: LoadedConfig, file: string | undefined): ApiKeyConfig[] {
  if (!file) return [];
  const read = readKeysFile(file, loaded.baseDir);
  return read.ok ? read.keys : [];
}

async function mint(key: SigningKey, issuer: JwtIssuerConfig, claims: Record<string, unknown>, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const payload = { iss: issuer.issuer, aud: issuer.audiences[0], iat, exp: iat + 3600, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

function fixedIdentity(credentialHeaders: readonly string[], identity: Identity) {
  const result = { ok: true as const, identity };
  return { credentialHeaders, resolve: () => result };
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
