// Tries identity sources in the configured order: the first one whose credential is present decides.

import type { CheckInput } from '../check/check-input.js';
import { identityDenied, type IdentityResult, type IdentitySource } from './result.js';

export interface IdentityResolver {
  resolve(input: CheckInput, nowMs: number): IdentityResult | Promise<IdentityResult>;
  /** Every credential header of every configured source, to strip before the upstream. */
  readonly credentialHeaders: readonly string[];
  /**
   * The sources in the configured order, for `explain` to ask which credentials a request carries.
   * The check never reads it, so a test's fake resolver may leave it out.
   */
  readonly sources?: readonly IdentitySource[];
}

const NO_CREDENTIAL = identityDenied('no_credential');

/**
 * A present but invalid credential is a deny, not a reason to try the next source: falling through
 * would let a forged token be silently ignored in favour of a weaker credential.
 */
export function identityResolver(sources: readonly IdentitySource[]): IdentityResolver {
  return {
    credentialHeaders: [...new Set(sources.flatMap((s) => s.credentialHeaders))],
    sources,
    resolve(input, nowMs) {
      for (const source of sources) {
        if (source.present(input)) return source.resolve(input, nowMs);
      }
      return NO_CREDENTIAL;
    },
  };
}
