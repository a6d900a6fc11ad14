// Builds the identity sources the config asks for: reads secrets and key files, compiles matchers.

import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { readKeysFile } from '../config/keys-file.js';
import type { ApiKeyConfig, Config } from '../config/schema.js';
import { formatKeyPath, type ConfigProblem } from '../config/problems.js';
import { unknownRoleProblems } from '../policy/roles.js';
import { apiKeySource } from './api-key.js';
import { jwtSource, type JwtIssuer } from './jwt.js';
import { localKeySource, remoteKeySource } from './jwks.js';
import { mtlsSource } from './mtls.js';
import { identityResolver, type IdentityResolver } from './resolver.js';
import type { IdentitySource } from './result.js';

export interface IdentityBuildOptions {
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
  readonly onJwksFetch?: (issuer: string, outcome: 'ok' | 'error', detail?: string) => void;
  readonly onTokenCache?: (hit: boolean) => void;
}

export type IdentityBuild =
  | { readonly ok: true; readonly resolver: IdentityResolver; readonly warm: () => Promise<void> }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

const MIN_SECRET_BYTES = 16;

export function buildIdentity(config: Config, options: IdentityBuildOptions): IdentityBuild {
  const problems: ConfigProblem[] = [];
  const sources: IdentitySource[] = [];
  const warmers: Array<() => Promise<void>> = [];
  const id = config.identity;

  for (const name of id.order) {
    if (name === 'jwt' && id.jwt) {
      const issuers: JwtIssuer[] = [];
      id.jwt.issuers.forEach((issuer, i) => {
        try {
          const keys = issuer.jwks_file
            ? localKeySource(resolvePath(options.baseDir, issuer.jwks_file))
            : remoteKeySource({
                jwksUri: issuer.jwks_uri,
                discoveryUrl: issuer.discovery_url,
                expectedIssuer: issuer.issuer,
                fetchTimeoutMs: issuer.jwks_timeout_ms,
                waitMs: Math.min(issuer.jwks_timeout_ms, 150),
                cooldownMs: issuer.jwks_cooldown_seconds * 1000,
                maxAgeMs: 10 * 60_000,
                now: options.now,
                onFetch: (outcome, detail) => options.onJwksFetch?.(issuer.name, outcome, detail),
              });
          warmers.push(keys.warm);
          issuers.push({ config: issuer, keys });
        } catch (error) {
          problems.push({ path: ['identity', 'jwt', 'issuers', i, 'jwks_file'], message: (error as Error).message });
        }
      });
      sources.push(jwtSource({ config: id.jwt, issuers, onCache: options.onTokenCache }));
    } else if (name === 'mtls' && id.mtls) {
      sources.push(mtlsSource(id.mtls));
    } else if (name === 'api_key' && id.api_keys) {
      const cfg = id.api_keys;
      const secret = readSecret(cfg.secret_env, cfg.secret_file, options, problems);
      const declared = new Set(Object.keys(config.policy.roles));
      const keys: ApiKeyConfig[] = [...cfg.keys, ...keysFromFile(cfg.keys_file, options.baseDir, declared, problems)];
      if (secret) sources.push(apiKeySource(cfg, keys, secret));
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    resolver: identityResolver(sources),
    warm: async () => {
      await Promise.all(warmers.map((w) => w()));
    },
  };
}

/** Secrets come from the environment or a file, never from the config itself. */
function readSecret(
  envName: string,
  file: string | undefined,
  options: IdentityBuildOptions,
  problems: ConfigProblem[],
): Buffer | undefined {
  const path = ['identity', 'api_keys', file ? 'secret_file' : 'secret_env'];
  let value: string | undefined;
  if (file) {
    try {
      value = readFileSync(resolvePath(options.baseDir, file), 'utf8').trim();
    } catch (error) {
      problems.push({ path, message: `cannot read secret file: ${(error as NodeJS.ErrnoException).code ?? error}` });
      return undefined;
    }
  } else {
    value = options.env[envName];
  }
  if (!value) {
    problems.push({ path, message: `API key secret missing: set ${file ? `file ${file}` : `env ${envName}`}` });
    return undefined;
  }
  const secret = Buffer.from(value, 'utf8');
  if (secret.length < MIN_SECRET_BYTES) {
    problems.push({ path, message: `API key secret shorter than ${MIN_SECRET_BYTES} bytes` });
    return undefined;
  }
  return secret;
}

/**
 * The keys file's keys; a role no policy declares is a problem, as for inline keys
 * (policy/roles.ts): the key would authenticate and then match nothing.
 */
function keysFromFile(file: string | undefined, baseDir: string, declared: ReadonlySet<string>, problems: ConfigProblem[]): ApiKeyConfig[] {
  if (!file) return [];
  const read = readKeysFile(file, baseDir);
  if (!read.ok) {
    problems.push(...read.problems);
    return [];
  }
  read.keys.forEach((key, i) => {
    for (const p of unknownRoleProblems(declared, key.roles, ['keys', i, 'roles'])) {
      problems.push({ path: ['identity', 'api_keys', 'keys_file'], message: `${file}: ${formatKeyPath(p.path)}: ${p.message}` });
    }
  });
  return read.keys;
}
