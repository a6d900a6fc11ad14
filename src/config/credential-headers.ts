// Which request headers carry a credential under a given config, and the check that none of them
// is kept in the audit trail. The audit section alone cannot know that `x-model-key` is this
// deployment's API-key header, so the check runs where the whole file is known: at config load.

import { SENSITIVE_HEADERS } from '../log/logger.js';
import type { AuditConfig } from '../audit/config.js';
import type { ConfigProblem } from './problems.js';
import type { Config } from './schema.js';

export interface CredentialHeader {
  /** Lower-case header name. */
  readonly name: string;
  /** The setting that makes it a credential, for the error message. */
  readonly why: string;
}

/** Credential headers no config names, but proxies and IdPs commonly add (Envoy jwt_authn `forward_payload_header`, IAP, ALB). */
const WELL_KNOWN: readonly CredentialHeader[] = [
  { name: 'x-jwt-assertion', why: "a JWT forwarded by a proxy (Envoy jwt_authn's forward_payload_header)" },
  { name: 'x-goog-iap-jwt-assertion', why: 'a JWT forwarded by Google IAP' },
  { name: 'x-amzn-oidc-data', why: 'a JWT forwarded by an AWS load balancer' },
  ...SENSITIVE_HEADERS.map((name) => ({ name, why: 'always redacted from logs' })),
];

export type CredentialSources = Pick<Config, 'identity' | 'log'> & { readonly server: Pick<Config['server'], 'http'> };

/** Every header this config reads a credential from, plus the ones the operator marked sensitive. */
export function credentialHeaders(config: CredentialSources): CredentialHeader[] {
  // This deployment's own settings first: they name the reason best when a header is on both lists.
  const found: CredentialHeader[] = [];
  const { jwt, api_keys, mtls } = config.identity;
  if (jwt) found.push({ name: jwt.header, why: 'identity.jwt.header' });
  if (api_keys) found.push({ name: api_keys.header, why: 'identity.api_keys.header' });
  if (mtls?.sources.includes('xfcc')) found.push({ name: 'x-forwarded-client-cert', why: 'identity.mtls.sources: xfcc' });
  if (config.server.http.enabled) found.push({ name: config.server.http.client_cert_header, why: 'server.http.client_cert_header' });
  for (const name of config.log.redact_headers) found.push({ name, why: 'log.redact_headers marks it sensitive' });
  found.push(...WELL_KNOWN);
  return found.map((h) => ({ name: h.name.toLowerCase(), why: h.why }));
}

/**
 * A credential is never stored in the audit trail, in `plain` or `hash` mode alike: a keyed hash
 * of a low-entropy or reused secret can be brute-forced by whoever later holds the hash key.
 */
export function keptCredentialProblems(config: CredentialSources & { readonly audit?: AuditConfig }): ConfigProblem[] {
  const keep = config.audit?.privacy.keep ?? [];
  if (keep.length === 0) return [];
  const byName = new Map<string, string>();
  for (const h of credentialHeaders(config)) if (!byName.has(h.name)) byName.set(h.name, h.why);
  const problems: ConfigProblem[] = [];
  keep.forEach((field, i) => {
    const why = byName.get(field.name.toLowerCase());
    if (why === undefined) return;
    problems.push({
      path: ['audit', 'privacy', 'keep', i, 'name'],
      message: `'${field.name}' carries a credential (${why}); credentials are never stored in the audit trail, hashed or plain`,
    });
  });
  return problems;
}
