// The outcome of one check, protocol-neutral: what the answer stage and the decision log read.

import type { Identity } from '../identity/identity.js';
import type { LimitReport } from '../ratelimit/limiter.js';
import type { DenyReason, ReasonCode } from './reasons.js';

export interface Decision {
  readonly allowed: boolean;
  readonly reason: ReasonCode;
  readonly identity?: Identity;
  readonly model?: string;
  readonly action?: string;
  readonly ruleId?: string;
  readonly shadowRules: readonly string[];
  readonly limit?: LimitReport & { readonly retryAfterSeconds?: number; readonly limitId?: string };
  /** Internal detail for the decision log; never sent to the client. */
  readonly detail?: string;
  /** Deny only: fields the client needs to act on the deny (remaining budget, approval id), added to the JSON body. */
  readonly bodyExtra?: Readonly<Record<string, string | number>>;
}

/** A deny decision, as values: the one deny helper of the pipeline and of the rule evaluator. */
export type Denied = Decision & { readonly allowed: false; readonly reason: DenyReason };

const NO_RULES: readonly string[] = [];

/** Fields not given are absent (`shadowRules` empty); a stage passes what it knows (rule, identity, detail). */
export function denied(reason: DenyReason, fields?: Omit<Partial<Decision>, 'allowed' | 'reason'>): Denied {
  return { allowed: false, reason, shadowRules: NO_RULES, ...fields };
}

/** Whether the check's limit outcome carries metadata; `Object.keys` without the array, as the log and metrics ask on every check. */
export function hasLimitMetadata(decision: Decision): boolean {
  const meta = decision.limit?.metadata;
  if (meta) for (const key in meta) if (Object.prototype.hasOwnProperty.call(meta, key)) return true;
  return false;
}
