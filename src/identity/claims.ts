// Maps verified JWT claims to subject, roles, scopes and attributes according to an issuer's claim settings.

import type { JwtIssuerConfig } from '../config/schema.js';
import type { Identity } from './identity.js';
import { identityDenied, type IdentityResult } from './result.js';
import { isHeaderValue } from '../decision/header-value.js';
import { jwtSubject } from './subject.js';

// Subject, roles and attributes reach the model server as header values (`x-modelgate-*`). Envoy
// refuses a whole answer with a control character in one (validate_mutations: its own bodiless
// 500, after modelgate logged an allow), and HTTP drops surrounding whitespace, so the model server
// would read another subject than the one decided. Such a claim (isHeaderValue, the one rule in
// decision/header-value.ts) makes the claims invalid.

/**
 * Roles travel upstream joined with `,` in one header (`x-modelgate-roles`), and a model server
 * splits them back on `,` and trims whitespace: a role `viewer,admin` or `viewer admin` would read
 * as two roles there, one of which the policy never granted. Such a role makes the claims invalid.
 */
const ROLE_SEPARATOR = /[,\s]/;

/** A claim by name, else by dotted path; own properties only, so `constructor` is never a claim. */
export function claimAt(payload: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Arrays of strings, or an OAuth-style space-separated string (RFC 6749 `scope`). */
function valuesFrom(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') {
    for (const r of value.split(' ')) if (r) into.add(r);
  } else if (Array.isArray(value)) {
    for (const r of value) if (typeof r === 'string' && r) into.add(r);
  }
}

export function identityFromClaims(
  payload: Record<string, unknown>,
  issuer: JwtIssuerConfig,
  method: 'jwt' | 'envoy_jwt',
): IdentityResult {
  const subject = claimAt(payload, issuer.claims.subject);
  if (typeof subject !== 'string' || subject === '') return identityDenied('token_claims_invalid', 'subject claim missing');
  const roles = new Set<string>();
  for (const path of issuer.claims.roles) valuesFrom(claimAt(payload, path), roles);
  // Scopes say what the client may ask on the user's behalf, not who the user is: their own variable.
  const scopes = new Set<string>();
  for (const path of issuer.claims.scopes) valuesFrom(claimAt(payload, path), scopes);
  const attributes: Record<string, string> = {};
  for (const [name, path] of Object.entries(issuer.claims.attributes)) {
    const v = claimAt(payload, path);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[name] = String(v);
  }
  if (!isHeaderValue(subject)) return identityDenied('token_claims_invalid', 'subject is not a valid header value');
  for (const role of roles) {
    if (!isHeaderValue(role)) return identityDenied('token_claims_invalid', 'a role is not a valid header value');
    if (ROLE_SEPARATOR.test(role)) return identityDenied('token_claims_invalid', 'a role contains a separator (comma or whitespace)');
  }
  for (const [name, v] of Object.entries(attributes)) {
    if (!isHeaderValue(v)) return identityDenied('token_claims_invalid', `attribute ${name} is not a valid header value`);
  }
  const identity: Identity = {
    // Qualified by the issuer's configured name, not its `iss` URL: one name per issuer in rules and
    // buckets, the same for both JWT paths. Built once; the token cache keeps the whole identity.
    subject: jwtSubject(issuer.name, subject),
    method,
    roles: [...roles],
    scopes: [...scopes],
    attributes,
    issuer: issuer.name,
    expiresAt: typeof payload.exp === 'number' ? payload.exp : undefined,
  };
  return { ok: true, identity };
}
