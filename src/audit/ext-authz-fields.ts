// Reads modelgate's ext_authz dynamic-metadata namespace (already plain JSON) into record fields.

import { MetadataKey } from '../decision/metadata-keys.js';
import type { AuditRecord, RecordDecision } from './record.js';

export type ExtAuthzFields = Pick<
  AuditRecord,
  | 'decision_id'
  | 'subject'
  | 'auth_method'
  | 'roles'
  | 'tenant'
  | 'model'
  | 'gen_ai'
  | 'action'
  | 'decision'
  | 'reason'
  | 'rule_id'
  | 'shadow_rules'
  | 'ext_authz_duration_ms'
  | 'ratelimit'
  | 'budget'
> & { readonly request_id: string };

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : String(value);
}

function list(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(text).filter((s) => s !== '');
  return text(value).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Envoy writes `ext_authz_duration` as milliseconds (a number, or a string in some formatters). */
function millis(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(text(value));
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

export function readExtAuthz(namespace: Readonly<Record<string, unknown>> | undefined): ExtAuthzFields {
  const ns = namespace ?? {};
  const decision = text(ns[MetadataKey.decision]);
  const model = text(ns[MetadataKey.model]);
  const ratelimit: Record<string, string> = {};
  let budget: Record<string, string> | undefined;
  for (const [key, value] of Object.entries(ns)) {
    if (key.startsWith('ratelimit_')) ratelimit[key] = text(value);
    else if (BUDGET_KEY.test(key)) (budget ??= {})[key] = text(value);
  }
  return {
    request_id: text(ns[MetadataKey.requestId]),
    decision_id: text(ns[MetadataKey.decisionId]),
    subject: text(ns[MetadataKey.subject]),
    auth_method: text(ns[MetadataKey.authMethod]),
    roles: list(ns[MetadataKey.roles]),
    tenant: text(ns[MetadataKey.tenant]),
    model,
    gen_ai: { request: { model } },
    action: text(ns[MetadataKey.action]),
    decision: (decision === 'allow' || decision === 'deny' ? decision : 'none') satisfies RecordDecision,
    reason: text(ns[MetadataKey.reason]),
    rule_id: text(ns[MetadataKey.ruleId]),
    shadow_rules: list(ns[MetadataKey.shadowRules]),
    ext_authz_duration_ms: millis(ns.ext_authz_duration),
    ratelimit,
    // Only when a budget or lease applied: records without one keep their bytes.
    ...(budget === undefined ? {} : { budget }),
  };
}

/** The budget ledger's metadata (src/budget/outcome.ts): the reservation, its estimate, a refusal's budget. */
const BUDGET_KEY = /^(reservation_id$|budget_|concurrency_)/;
