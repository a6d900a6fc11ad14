// One JSON line per check, written after the answer is sent: who, what, the decision and why, how
// long it took. Credentials and bodies never appear; a body appears only as its SHA-256.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { CheckInput } from '../pipeline/check-input.js';
import type { Decision } from './decision.js';

export interface DecisionLogEntry {
  readonly decisionId: string;
  readonly input: CheckInput | undefined;
  readonly decision: Decision;
  readonly latencyUs: number;
  readonly httpStatus: number;
}

export type DecisionLog = (entry: DecisionLogEntry) => void;

export function decisionLog(logger: Logger, enabled: boolean): DecisionLog {
  if (!enabled) return () => {};
  return ({ decisionId, input, decision, latencyUs, httpStatus }) => {
    const id = decision.identity;
    logger.info(
      {
        decision_id: decisionId,
        request_id: input?.requestId || undefined,
        stream_id: input?.streamId || undefined,
        method: input?.method,
        host: input?.host,
        subject: id?.subject,
        auth_method: id?.method,
        roles: id?.roles,
        model: decision.model,
        action: decision.action,
        decision: decision.allowed ? 'allow' : 'deny',
        reason: decision.reason,
        status: httpStatus,
        rule_id: decision.ruleId,
        shadow_rules: decision.shadowRules.length > 0 ? decision.shadowRules : undefined,
        limit: decision.limit && Object.keys(decision.limit.metadata).length > 0 ? decision.limit.metadata : undefined,
        limit_shadow_denied: decision.limit?.shadowDenied.length ? decision.limit.shadowDenied : undefined,
        detail: decision.detail,
        latency_us: latencyUs,
        body_sha256: input?.body ? createHash('sha256').update(input.body.text).digest('hex') : undefined,
        body_partial: input?.body?.partial || undefined,
      },
      'decision',
    );
  };
}
