// The attributes of a check span. OpenTelemetry's names where a convention exists (GenAI's
// `gen_ai.request.model`, RPC's `rpc.*`), `modelgate.*` for the rest; documented in docs/tracing.md.
// Never a credential, a header value or the raw subject.

import type { Attributes } from '@opentelemetry/api';
import type { DecisionLogEntry } from '../decision/decision-log.js';

/** What the limiter said: its allow or deny reason, or that the check never reached it. */
export type LimitOutcome = 'allowed' | 'rate_limited' | 'temporarily_blocked' | 'limiter_unavailable' | 'not_reached';

export function limitOutcome(entry: DecisionLogEntry): LimitOutcome {
  const { decision } = entry;
  if (!decision.limit) return 'not_reached';
  if (decision.allowed) return 'allowed';
  const reason = decision.reason;
  return reason === 'rate_limited' || reason === 'temporarily_blocked' || reason === 'limiter_unavailable' ? reason : 'not_reached';
}

export function checkSpanAttributes(entry: DecisionLogEntry, subjectHash: string | undefined): Attributes {
  const { decision, input } = entry;
  const attributes: Attributes = {
    'modelgate.decision': decision.allowed ? 'allow' : 'deny',
    'modelgate.reason': decision.reason,
    'modelgate.decision_id': entry.decisionId,
    'modelgate.http_status': entry.httpStatus,
    'modelgate.limit.outcome': limitOutcome(entry),
  };
  // A gRPC Check hands the handler its call metadata; the HTTP mode has none.
  if (entry.transportTrace) {
    attributes['rpc.system'] = 'grpc';
    attributes['rpc.service'] = 'envoy.service.auth.v3.Authorization';
    attributes['rpc.method'] = 'Check';
  }
  if (decision.ruleId !== undefined) attributes['modelgate.rule_id'] = decision.ruleId;
  if (decision.model !== undefined) attributes['gen_ai.request.model'] = decision.model;
  if (decision.action !== undefined) attributes['modelgate.action'] = decision.action;
  if (subjectHash !== undefined) attributes['modelgate.subject.hash'] = subjectHash;
  if (decision.identity) attributes['modelgate.auth_method'] = decision.identity.method;
  if (decision.shadowRules.length > 0) attributes['modelgate.shadow_rules'] = [...decision.shadowRules];
  if (decision.limit?.limitId !== undefined) attributes['modelgate.limit.id'] = decision.limit.limitId;
  if (decision.limit?.shadowDenied.length) attributes['modelgate.limit.shadow_denied'] = [...decision.limit.shadowDenied];
  if (input?.requestId) attributes['modelgate.request_id'] = input.requestId;
  return attributes;
}
