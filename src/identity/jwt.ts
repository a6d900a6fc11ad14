// JWT identity: bearer tokens verified with jose against each issuer's keys, cached until expiry.

import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { JwtConfig, JwtIssuerConfig } from '../config/schema.js';
import type { DenyReason } from '../decision/reasons.js';
import type { CheckInput } from '../check/check-input.js';
import { checkRegisteredClaims } from './claim-checks.js';
import { identityFromClaims } from './claims.js';
import type { Identity } from './identity.js';
import type { KeySource } from './jwks.js';
import { identityDenied, type IdentityResult, type IdentitySource } from './result.js';

/** Anything longer is not a token we would issue; refusing early bounds parsing cost. */
const MAX_TOKEN_LENGTH = 16 * 1024;

export interface JwtIssuer {
  readonly config: JwtIssuerConfig;
  readonly keys: KeySource;
}

/** A cached verification: the identity, and the issuer's key revision it was verified under. */
interface VerifiedToken {
  readonly identity: Identity;
  readonly keys: KeySource;
  readonly revision: number;
}

export interface JwtSourceOptions {
  readonly config: JwtConfig;
  readonly issuers: readonly JwtIssuer[];
  readonly onCache?: (hit: boolean) => void;
}

export function jwtSource(options: JwtSourceOptions): IdentitySource {
  const header = options.config.header.toLowerCase();
  const byIssuer = new Map(options.issuers.map((i) => [i.config.issuer, i]));
  const envoy = options.config.envoy_jwt_authn;
  // Verified identities keyed by the exact token: a hit skips ~100 µs of signature work. An entry
  // never outlives the token's own exp (checked again on every hit with the injected clock), nor
  // the key that verified it: once a fetch drops a key, the issuer's revision moves on and every
  // token verified before is verified again.
  const cache =
    options.config.cache.max_entries > 0
      ? new LRUCache<string, VerifiedToken>({ max: options.config.cache.max_entries })
      : undefined;

  const envoyPayload = (input: CheckInput): Record<string, unknown> | undefined => {
    if (!envoy) return undefined;
    const payload = input.filterMetadata[envoy.namespace]?.[envoy.payload_key];
    return payload && typeof payload === 'object' ? (payload as Record<string, unknown>) : undefined;
  };

  // Envoy checked the signature (and whatever its provider config checks); the issuer's own claim
  // rules are modelgate's, and are checked exactly as for a token it verifies itself.
  const fromEnvoy = (payload: Record<string, unknown>, nowMs: number): IdentityResult => {
    const issuer = typeof payload.iss === 'string' ? byIssuer.get(payload.iss) : undefined;
    if (!issuer) return identityDenied('token_issuer_unknown', 'jwt_authn payload issuer not configured');
    return checkRegisteredClaims(payload, issuer.config, nowMs) ?? identityFromClaims(payload, issuer.config, 'envoy_jwt');
  };

  const verify = async (token: string, nowMs: number): Promise<IdentityResult> => {
    const checked = await verifyWithIssuer(token, nowMs);
    if (checked.result.ok && cache && checked.issuer) {
      cache.set(token, { identity: checked.result.identity, keys: checked.issuer.keys, revision: checked.revision });
    }
    return checked.result;
  };

  const verifyWithIssuer = async (token: string, nowMs: number): Promise<{ result: IdentityResult; issuer?: JwtIssuer; revision: number }> => {
    const denied = (result: IdentityResult) => ({ result, revision: 0 });
    if (token.length > MAX_TOKEN_LENGTH) return denied(identityDenied('token_malformed', 'token too long'));
    let alg: string | undefined;
    let iss: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      return denied(identityDenied('token_malformed'));
    }
    const issuer = iss ? byIssuer.get(iss) : undefined;
    if (!issuer) return denied(identityDenied('token_issuer_unknown'));
    // Checked before any key lookup so `none` and HS* never reach a verifier.
    if (!alg || !(issuer.config.algorithms as readonly string[]).includes(alg)) {
      return denied(identityDenied('token_algorithm_not_allowed', `alg ${String(alg)}`));
    }
    // Read before the key lookup: a fetch the lookup triggers may drop keys, and a token verified
    // with the old set must not be cached as current.
    const revision = issuer.keys.revision();
    let payload: JWTPayload;
    try {
      // jose checks the signature (and, always, exp/nbf when present, with the same skew and clock);
      // the issuer's claim rules are checkRegisteredClaims', shared with the jwt_authn path.
      ({ payload } = await jwtVerify(token, issuer.keys.getKey, {
        algorithms: issuer.config.algorithms as string[],
        clockTolerance: issuer.config.clock_skew_seconds,
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      return denied(identityDenied(reasonForJoseError(error), (error as Error).message));
    }
    const claims = payload as Record<string, unknown>;
    return { result: checkRegisteredClaims(claims, issuer.config, nowMs) ?? identityFromClaims(claims, issuer.config, 'jwt'), issuer, revision };
  };

  return {
    name: 'jwt',
    credentialHeaders: [header],
    present: (input) => envoyPayload(input) !== undefined || bearerToken(input.headers[header]) !== undefined,
    carrier: (input) => (envoyPayload(input) !== undefined ? `jwt_authn metadata ${envoy!.namespace}` : `${header}: Bearer …`),
    resolve(input, nowMs) {
      const payload = envoyPayload(input);
      if (payload) return fromEnvoy(payload, nowMs);
      const token = bearerToken(input.headers[header]);
      if (!token) return identityDenied('token_malformed', 'empty bearer token');
      const hit = cache?.get(token);
      if (hit && hit.identity.expiresAt !== undefined && hit.identity.expiresAt * 1000 > nowMs && hit.revision === hit.keys.revision()) {
        options.onCache?.(true);
        return { ok: true, identity: hit.identity };
      }
      options.onCache?.(false);
      return verify(token, nowMs);
    },
  };
}

/** `Bearer <token>`, scheme case-insensitive per RFC 7235; anything else is not a bearer credential. */
function bearerToken(value: string | undefined): string | undefined {
  if (!value || value.length < 7) return undefined;
  if (value.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  return value.slice(7).trim();
}

function reasonForJoseError(error: unknown): DenyReason {
  const e = error as { code?: string; claim?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return 'token_expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf' || e.claim === 'iat') return 'token_not_yet_valid';
      if (e.claim === 'aud') return 'token_audience_invalid';
      if (e.claim === 'iss') return 'token_issuer_unknown';
      return 'token_claims_invalid';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'token_signature_invalid';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'token_algorithm_not_allowed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'token_key_unknown';
    case 'ERR_MODELGATE_JWKS_UNAVAILABLE':
    case 'ERR_JWKS_TIMEOUT':
      return 'identity_backend_unavailable';
    default:
      return 'token_malformed';
  }
}
