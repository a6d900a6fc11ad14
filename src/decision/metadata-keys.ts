// Names of the dynamic metadata fields modelgate sends to Envoy (namespace envoy.filters.http.ext_authz).
// The Envoy access-log configs and the audit pipeline read these exact names.

export const EXT_AUTHZ_NAMESPACE = 'envoy.filters.http.ext_authz';

export const MetadataKey = {
  decisionId: 'decision_id',
  requestId: 'request_id',
  decision: 'decision', // 'allow' | 'deny'
  reason: 'reason', // a ReasonCode
  subject: 'subject',
  authMethod: 'auth_method',
  roles: 'roles', // comma-joined
  tenant: 'tenant',
  model: 'model',
  action: 'action',
  ruleId: 'rule_id',
  shadowRules: 'shadow_rules', // comma-joined ids of shadow rules that matched
} as const;
