// The resolved caller: what every identity source produces and every later stage reads.

export type AuthMethod = 'jwt' | 'envoy_jwt' | 'mtls' | 'api_key';

export interface Identity {
  /**
   * Qualified subject (subject.ts): `api_key:<key subject>`, `jwt:<issuer name>:<sub>` or
   * `mtls:<workload subject or SAN>`. Rules, buckets, headers, logs and audit records all use this
   * one string, built once when the identity is resolved.
   */
  readonly subject: string;
  readonly method: AuthMethod;
  readonly roles: readonly string[];
  /** OAuth scopes (JWT `scope`/`scp` by default): CEL `subject.scopes`, never roles, never a header. */
  readonly scopes?: readonly string[];
  /** Attributes such as `org`, `tier`, `tenant`, `env`: strings only, so they fit headers and CEL alike. */
  readonly attributes: Readonly<Record<string, string>>;
  /** JWT issuer name, API key id, or the certificate SAN the subject came from. */
  readonly issuer?: string;
  /** Epoch seconds after which this identity must not be reused (token `exp`, key expiry). */
  readonly expiresAt?: number;
}
