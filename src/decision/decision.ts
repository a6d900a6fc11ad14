// The outcome of one check, protocol-neutral: what the answer stage and the decision log read.

import type { Identity } from '../identity/identity.js';
import type { LimitReport } from '../ratelimit/limiter.js';
import type { ReasonCode } from './reasons.js';

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
}

/** Whether the check's limit outcome carries metadata; `Object.keys` without the array, as the log and metrics ask on every check. */
export function hasLimitMetadata(decision: Decision): boolean {
  const meta = decision.limit?.metadata;
  if (meta) for (const key in meta) if (Object.prototype.hasOwnProperty.call(meta, key)) return true;
  return false;
}
