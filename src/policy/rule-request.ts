// What the rule evaluator reads for one check: its own file so the evaluator and the CEL
// activation (which both read it) do not import each other.

import type { CheckInput } from '../check/check-input.js';
import type { Identity } from '../identity/identity.js';
import type { Target } from './target.js';

export interface RuleRequest {
  readonly identity: Identity;
  readonly target: Target;
  readonly input: CheckInput;
  /** The JSON body when Envoy sent it complete, else undefined (never a partial parse). */
  readonly body: () => unknown;
}
