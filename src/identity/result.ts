// What an identity source answers: an identity, or a deny reason as a value (never a throw).

import type { DenyReason } from '../decision/reasons.js';
import type { CheckInput } from '../check/check-input.js';
import type { Identity } from './identity.js';

export type IdentityResult =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly reason: DenyReason; /** for the decision log only */ readonly detail?: string };

export type IdentityDenied = Extract<IdentityResult, { ok: false }>;

export function identityDenied(reason: DenyReason, detail?: string): IdentityDenied {
  return { ok: false, reason, detail };
}

/** One way of proving who is calling (JWT, client certificate, API key). */
export interface IdentitySource {
  readonly name: 'jwt' | 'api_key' | 'mtls';
  /** Header names that carry this source's credential, stripped before the upstream sees them. */
  readonly credentialHeaders: readonly string[];
  /** True when the request carries this source's credential at all (valid or not). */
  present(input: CheckInput): boolean;
  /**
   * For `explain`, in words: what carries the credential in this request, or where this source looks
   * for one. Built from the same reads as `present`, so the two cannot tell different stories.
   */
  carrier(input: CheckInput): string;
  resolve(input: CheckInput, nowMs: number): IdentityResult | Promise<IdentityResult>;
}
