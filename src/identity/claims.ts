// Maps verified JWT claims to subject, roles and attributes according to an issuer's claim settings.

import type { JwtIssuerConfig } from '../config/schema.js';
import type { Identity } from './identity.js';

function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (path in payload) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Roles come as arrays or as OAuth-style space-separated strings (`scope`); both are accepted. */
function rolesFrom(value: unknown, into: Set<string>): void {
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
): Identity | undefined {
  const subject = claimAt(payload, issuer.claims.subject);
  if (typeof subject !== 'string' || subject === '') return undefined;
  const roles = new Set<string>();
  for (const path of issuer.claims.roles) rolesFrom(claimAt(payload, path), roles);
  const attributes: Record<string, string> = {};
  for (const [name, path] of Object.entries(issuer.claims.attributes)) {
    const v = claimAt(payload, path);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[name] = String(v);
  }
  return {
    subject,
    method,
    roles: [...roles],
    attributes,
    issuer: issuer.name,
    expiresAt: typeof payload.exp === 'number' ? payload.exp : undefined,
  };
}
