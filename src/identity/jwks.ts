// Key sources for JWT issuers: a local JWKS file, or a remote JWKS / OIDC discovery with a cache
// that survives outages and refetches on an unknown kid.

import { readFileSync } from 'node:fs';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

export class JwksUnavailableError extends Error {
  readonly code = 'ERR_MODELGATE_JWKS_UNAVAILABLE';
}

export interface KeySource {
  readonly getKey: JWTVerifyGetKey;
  /**
   * Fetch keys ahead of the first request when none are held yet (a no-op once they are);
   * failures are retried lazily, never thrown.
   */
  warm(): Promise<void>;
  /**
   * Grows each time a successful fetch no longer lists a key the source held: tokens verified
   * before must be verified again (a removed key is a revoked key), so the token cache keys its
   * entries by it.
   */
  revision(): number;
}

export function localKeySource(file: string): KeySource {
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(readFileSync(file, 'utf8')) as JSONWebKeySet;
  } catch (error) {
    throw new Error(`cannot read JWKS file ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(jwks?.keys)) throw new Error(`JWKS file ${file} has no "keys" array`);
  const getKey = createLocalJWKSet(jwks);
  return { getKey, warm: () => Promise.resolve(), revision: () => 0 };
}

export interface RemoteKeySourceOptions {
  readonly jwksUri?: string;
  /** OIDC discovery document URL; its `jwks_uri` is used and its `issuer` must equal `expectedIssuer`. */
  readonly discoveryUrl?: string;
  readonly expectedIssuer: string;
  /** How long one fetch may take in the background. */
  readonly fetchTimeoutMs: number;
  /** How long a check waits for a fetch before answering identity_backend_unavailable. */
  readonly waitMs: number;
  /** Minimum time between refetches caused by unknown kids, so forged kids cannot hammer the IdP. */
  readonly cooldownMs: number;
  /** Keys older than this are refreshed in the background; the old keys keep serving meanwhile. */
  readonly maxAgeMs: number;
  readonly now: () => number;
  readonly onFetch?: (outcome: 'ok' | 'error', detail?: string) => void;
}

const MAX_DOCUMENT_BYTES = 1 << 20;
/** With no keys yet, how often a check may start a new fetch (capped by the issuer's cooldown). */
const NO_KEYS_RETRY_MS = 1_000;

/**
 * Keeps the last good key set forever: an IdP outage must not turn every request into a 401, and
 * keys only leave when a successful fetch no longer lists them.
 */
export function remoteKeySource(options: RemoteKeySourceOptions): KeySource {
  let keys: JWTVerifyGetKey | undefined;
  let held = new Set<string>();
  let revision = 0;
  let fetchedAt = 0;
  let lastAttempt = -Infinity;
  let inflight: Promise<void> | undefined;

  const fetchJson = async (url: string): Promise<unknown> => {
    const res = await fetch(url, { signal: AbortSignal.timeout(options.fetchTimeoutMs), redirect: 'error' });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`GET ${url}: document too large`);
    return JSON.parse(text) as unknown;
  };

  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      lastAttempt = options.now();
      try {
        let uri = options.jwksUri;
        if (!uri && options.discoveryUrl) {
          const doc = (await fetchJson(options.discoveryUrl)) as { issuer?: unknown; jwks_uri?: unknown };
          if (doc.issuer !== options.expectedIssuer) throw new Error(`discovery issuer mismatch: ${String(doc.issuer)}`);
          if (typeof doc.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
          uri = doc.jwks_uri;
        }
        const jwks = (await fetchJson(uri!)) as JSONWebKeySet;
        if (!Array.isArray(jwks?.keys)) throw new Error('JWKS has no "keys" array');
        keys = createLocalJWKSet(jwks);
        const next = new Set(jwks.keys.map((k) => JSON.stringify(k)));
        for (const key of held) {
          if (!next.has(key)) {
            revision++;
            break;
          }
        }
        held = next;
        fetchedAt = options.now();
        options.onFetch?.('ok');
      } catch (error) {
        options.onFetch?.('error', (error as Error).message);
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  const refreshWithin = async (waitMs: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([refresh(), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (!keys) {
      // Never fetched successfully: without this floor every check for the issuer would start a
      // fetch of its own while the IdP is down. Checks join a fetch in flight, or retry at most
      // once per NO_KEYS_RETRY_MS, and are answered identity_backend_unavailable in between.
      if (inflight || options.now() - lastAttempt >= Math.min(options.cooldownMs, NO_KEYS_RETRY_MS)) {
        await refreshWithin(options.waitMs);
      }
      if (!keys) throw new JwksUnavailableError('no JWKS available');
    } else if (options.now() - fetchedAt > options.maxAgeMs) {
      void refresh();
    }
    try {
      return await keys(header, token);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'ERR_JWKS_NO_MATCHING_KEY' || options.now() - lastAttempt < options.cooldownMs) throw error;
      await refreshWithin(options.waitMs);
      return keys(header, token);
    }
  };

  return { getKey, warm: () => (keys ? Promise.resolve() : refresh()), revision: () => revision };
}
