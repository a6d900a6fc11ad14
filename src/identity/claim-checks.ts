// The one validator of an issuer's registered claims, for both JWT paths: a token modelgate verified
// itself and a payload Envoy's jwt_authn verified and put in metadata_context. Checked the same way
// on both, so moving verification into Envoy never loosens what an issuer's config demands.

import type { JwtIssuerConfig } from '../config/schema.js';
import { claimAt } from './claims.js';
import { identityDenied, type IdentityDenied } from './result.js';

/** A NumericDate (RFC 7519 §2): a JSON number of seconds. `"1"` or `null` is not one. */
function numericDate(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function audienceMatches(aud: unknown, allowed: readonly string[]): boolean {
  if (typeof aud === 'string') return allowed.includes(aud);
  return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && allowed.includes(a));
}

/**
 * Undefined when the claims satisfy the issuer's config at `nowMs`, else the deny. Order: issuer,
 * audience, presence and type of `exp` and the configured required claims, then time (`exp`, `nbf`,
 * and an `iat` in the future, each beyond the issuer's clock skew).
 */
export function checkRegisteredClaims(payload: Readonly<Record<string, unknown>>, issuer: JwtIssuerConfig, nowMs: number): IdentityDenied | undefined {
  if (payload.iss !== issuer.issuer) return identityDenied('token_issuer_unknown', 'iss does not name this issuer');
  if (!audienceMatches(payload.aud, issuer.audiences)) return identityDenied('token_audience_invalid', 'aud names none of the configured audiences');
  const exp = numericDate(payload.exp);
  if (exp === undefined) return identityDenied('token_claims_invalid', payload.exp === undefined ? 'exp missing' : 'exp is not a number');
  for (const claim of issuer.required_claims) {
    const value = claimAt(payload, claim);
    if (value === undefined || value === null) return identityDenied('token_claims_invalid', `required claim ${claim} missing`);
  }
  for (const claim of ['nbf', 'iat'] as const) {
    if (payload[claim] !== undefined && numericDate(payload[claim]) === undefined) return identityDenied('token_claims_invalid', `${claim} is not a number`);
  }
  const now = nowMs / 1000;
  const skew = issuer.clock_skew_seconds;
  if (exp + skew <= now) return identityDenied('token_expired');
  const nbf = numericDate(payload.nbf);
  if (nbf !== undefined && nbf > now + skew) return identityDenied('token_not_yet_valid', 'nbf in the future');
  // A token issued "later" was minted by a clock we do not share, or minted to outlive a revocation.
  const iat = numericDate(payload.iat);
  if (iat !== undefined && iat > now + skew) return identityDenied('token_not_yet_valid', 'iat in the future');
  return undefined;
}
