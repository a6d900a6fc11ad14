// The one schema for modelgate's YAML config: shape, defaults and types together; strict everywhere.

import { z } from 'zod';
import { limitsSchema } from '../ratelimit/config.js';
import { budgetsSchema } from '../budget/config.js';
import { auditSchema } from '../audit/config.js';
import { targetNamesSchema } from '../policy/names.js';
import { headerValueProblem } from '../decision/header-value.js';
import { guardrailsSchema } from '../guardrails/config.js';
import { extProcSchema } from '../extproc/config.js';
import { approvalsSchema } from '../approvals/config.js';

const nonEmpty = z.string().min(1);
const names = z.array(nonEmpty);
const listenAddress = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'expected host:port');
const attributes = z.record(z.string(), z.string());
/** A value that reaches the model server in an `x-modelgate-*` header: the one rule in decision/header-value.ts. */
const headerValue = z.string().superRefine((value, ctx) => {
  const problem = headerValueProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});
const headerAttributes = z.record(z.string(), headerValue);

/** Asymmetric algorithms only: HS* is refused so a public key can never be used as an HMAC secret. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const tlsSchema = z
  .strictObject({
    cert_file: nonEmpty,
    key_file: nonEmpty,
    /** CA bundle that signs Envoy's client certificate for the Envoy→modelgate hop. */
    client_ca_file: nonEmpty.optional(),
    require_client_cert: z.boolean().default(true),
  })
  // Without a CA there is nothing to verify a client certificate against: gRPC would serve every
  // client, which is the opposite of what `require_client_cert: true` asked for.
  .refine((t) => !t.require_client_cert || t.client_ca_file !== undefined, {
    message: 'required when require_client_cert is true (the CA that signs Envoy\'s client certificate)',
    path: ['client_ca_file'],
  });

/**
 * A Check port answers whoever reaches it, and a direct caller can claim any principal or
 * header. Beyond loopback without TLS, modelgate warns loudly at startup; `true` says the hop is
 * protected another way (a mesh sidecar's mTLS, a private network) and turns the warning into an
 * info line.
 */
const allowPlaintextBeyondLoopback = z.boolean().default(false);

const serverSchema = z.strictObject({
  grpc: z
    .strictObject({
      address: listenAddress.default('127.0.0.1:9191'),
      tls: tlsSchema.optional(),
      allow_plaintext_beyond_loopback: allowPlaintextBeyondLoopback,
      /** Bigger requests (huge headers or bodies) are refused by gRPC before they cost a decode. */
      max_receive_message_bytes: z.number().int().min(1024).default(4 * 1024 * 1024),
    })
    .prefault({}),
  /**
   * HTTP authorization mode (Envoy http_service, nginx auth_request). Every header named here is
   * trusted as the proxy's word: bind to loopback or put the port behind mTLS (docs/http-mode.md).
   */
  http: z
    .strictObject({
      enabled: z.boolean().default(false),
      address: listenAddress.default('127.0.0.1:9193'),
      allow_plaintext_beyond_loopback: allowPlaintextBeyondLoopback,
      /** Envoy http_service `path_prefix`: removed from the check request's path before matching. */
      path_prefix: z.string().regex(/^(\/[^?#\s]*)?$/, "expected '' or a path starting with /").default(''),
      /** nginx auth_request: the original method and URI (set by the proxy, e.g. $request_method, $request_uri). */
      method_header: nonEmpty.toLowerCase().default('x-original-method'),
      uri_header: nonEmpty.toLowerCase().default('x-original-uri'),
      /** URL-encoded PEM of the verified client certificate (nginx $ssl_client_escaped_cert, Envoy %DOWNSTREAM_PEER_CERT%). */
      client_cert_header: nonEmpty.toLowerCase().default('x-ssl-client-cert'),
      /** Request bodies (Envoy with_request_body) beyond this are cut and marked partial. */
      max_body_bytes: z.number().int().min(0).max(16 * 1024 * 1024).default(64 * 1024),
    })
    .prefault({}),
  admin: z
    .strictObject({ enabled: z.boolean().default(true), address: listenAddress.default('127.0.0.1:9192') })
    .prefault({}),
  shutdown_grace_seconds: z.number().min(0).max(300).default(10),
  /** The answer for internal failures: always a deny, never an allow. */
  on_error: z.strictObject({ http_status: z.number().int().min(400).max(599).default(503) }).prefault({}),
});

const claimsSchema = z.strictObject({
  subject: nonEmpty.default('sub'),
  /**
   * Claim paths (dots for nesting) whose values become roles; space-separated strings are split.
   * Scopes are not roles by default (a client asks for `scope: admin`, an issuer grants roles); list
   * `scope` here to map it anyway.
   */
  roles: names.default(['roles', 'groups']),
  /** Claim paths whose values become `subject.scopes` in CEL (OAuth `scope` strings, `scp` arrays). */
  scopes: names.default(['scope', 'scp']),
  /** attribute name → claim path */
  attributes: attributes.default({}),
});

const issuerSchema = z
  .strictObject({
    name: nonEmpty,
    issuer: nonEmpty,
    audiences: names.min(1),
    jwks_file: nonEmpty.optional(),
    jwks_uri: z.url().optional(),
    discovery_url: z.url().optional(),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(['RS256', 'ES256', 'EdDSA']),
    clock_skew_seconds: z.number().int().min(0).max(600).default(30),
    required_claims: names.default([]),
    claims: claimsSchema.prefault({}),
    /** Minimum seconds between JWKS refetches triggered by an unknown kid. */
    jwks_cooldown_seconds: z.number().min(0).default(30),
    jwks_timeout_ms: z.number().int().min(50).default(2000),
  })
  .refine((i) => [i.jwks_file, i.jwks_uri, i.discovery_url].filter(Boolean).length === 1, {
    message: 'exactly one of jwks_file, jwks_uri, discovery_url is required',
  });

const jwtSchema = z.strictObject({
  header: nonEmpty.default('authorization'),
  issuers: z.array(issuerSchema).min(1),
  cache: z.strictObject({ max_entries: z.number().int().min(0).default(10_000) }).prefault({}),
  /** Trust the payload Envoy's jwt_authn filter verified and put in metadata_context. */
  envoy_jwt_authn: z
    .strictObject({
      namespace: nonEmpty.default('envoy.filters.http.jwt_authn'),
      payload_key: nonEmpty.default('jwt_payload'),
    })
    .optional(),
});

const workloadSchema = z
  .strictObject({
    /** Exact SPIFFE id / SAN. */
    match: nonEmpty.optional(),
    /** Glob over the SAN, `*` within one path segment, `**` across segments. */
    pattern: nonEmpty.optional(),
    subject: headerValue.min(1).optional(),
    roles: names.default([]),
    attributes: headerAttributes.default({}),
  })
  .refine((w) => Boolean(w.match) !== Boolean(w.pattern), { message: 'exactly one of match, pattern is required' });

const mtlsSchema = z
  .strictObject({
    sources: z.array(z.enum(['principal', 'certificate', 'xfcc'])).min(1).default(['certificate', 'principal']),
    /** Only true when Envoy runs forward_client_cert_details: SANITIZE_SET; otherwise anyone can forge XFCC. */
    xfcc_sanitized_by_proxy: z.boolean().default(false),
    workloads: z.array(workloadSchema).default([]),
  })
  .refine((m) => !m.sources.includes('xfcc') || m.xfcc_sanitized_by_proxy, {
    message: "source 'xfcc' requires xfcc_sanitized_by_proxy: true (Envoy forward_client_cert_details: SANITIZE_SET)",
    path: ['sources'],
  });

const apiKeySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'key ids are lower-case letters, digits and dashes'),
  /** hex HMAC-SHA-256 of the whole key under the server secret; the key itself is never stored. */
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex characters (HMAC-SHA-256)'),
  subject: headerValue.min(1),
  roles: names.default([]),
  attributes: headerAttributes.default({}),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  disabled: z.boolean().default(false),
});

const apiKeysSchema = z.strictObject({
  header: nonEmpty.default('x-api-key'),
  /** The HMAC secret comes from the environment or a file, never from this config file. */
  secret_env: nonEmpty.default('MODELGATE_API_KEY_SECRET'),
  secret_file: nonEmpty.optional(),
  keys: z.array(apiKeySchema).default([]),
  /** A separate YAML file with `keys: [...]`, for key lists that change more often than policy. */
  keys_file: nonEmpty.optional(),
});

export const apiKeysFileSchema = z.strictObject({ keys: z.array(apiKeySchema).default([]) });

const identitySchema = z
  .strictObject({
    /** First source in this order whose credential is present decides; a bad credential is not skipped. */
    order: z.array(z.enum(['jwt', 'api_key', 'mtls'])).min(1).default(['jwt', 'api_key', 'mtls']),
    jwt: jwtSchema.optional(),
    mtls: mtlsSchema.optional(),
    api_keys: apiKeysSchema.optional(),
  })
  .prefault({});

export const ruleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'rule ids are letters, digits, _ . : -'),
  description: z.string().optional(),
  /** `require_approval`: allowed only while an approver's grant exists (src/approvals/); deny still wins. */
  effect: z.enum(['allow', 'deny', 'require_approval']),
  /** Roles that may approve a `require_approval` rule's requests; only with that effect. */
  approvers: names.min(1).optional(),
  roles: names.optional(),
  subjects: names.optional(),
  models: names.min(1).default(['*']),
  actions: names.min(1).default(['*']),
  /** CEL over subject, request, model, action, context, body; compiled once at load. */
  when: nonEmpty.optional(),
  /** Evaluate and log, never change the decision. */
  shadow: z.boolean().default(false),
}).superRefine((rule, ctx) => {
  if (rule.effect === 'require_approval' && rule.approvers === undefined) {
    ctx.addIssue({ code: 'custom', path: ['approvers'], message: 'required when effect is require_approval (the roles that may approve)' });
  } else if (rule.effect !== 'require_approval' && rule.approvers !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['approvers'], message: `only allowed with effect: require_approval (this rule's effect is ${rule.effect})` });
  }
});

const pathTargetSchema = z.strictObject({
  /** `/v1/models/{model}:predict`; `{model}` captures one path segment. */
  pattern: z.string().startsWith('/'),
  methods: z.array(z.string().regex(/^[A-Z]+$/)).optional(),
  action: nonEmpty,
  model: nonEmpty.optional(),
  /** Take the model from this JSON body field (OpenAI-style `model`). */
  model_from_body: nonEmpty.optional(),
});

export const policySchema = z.strictObject({
  roles: z.record(z.string().regex(/^[A-Za-z0-9_.:-]+$/), z.strictObject({ description: z.string().optional() }).nullable()),
  rules: z.array(ruleSchema).default([]),
  targets: z
    .strictObject({
      context_extensions: z
        .strictObject({ model: nonEmpty.default('model'), action: nonEmpty.default('action') })
        .prefault({}),
      paths: z.array(pathTargetSchema).default([]),
      /** The characters a model or action name may hold (src/policy/names.ts); models compare in lower case. */
      names: targetNamesSchema,
    })
    .prefault({}),
});

const answerSchema = z
  .strictObject({
    upstream_headers: z
      .strictObject({
        subject: nonEmpty.default('x-modelgate-subject'),
        roles: nonEmpty.default('x-modelgate-roles'),
        tenant: nonEmpty.default('x-modelgate-tenant'),
        auth_method: nonEmpty.default('x-modelgate-auth-method'),
        decision_id: nonEmpty.default('x-modelgate-decision-id'),
        /** The budget reservation id on allowed requests (docs/budgets.md); default x-modelgate-reservation. */
        reservation: nonEmpty.optional(),
      })
      .prefault({}),
    /** Which identity attribute is the tenant. */
    tenant_attribute: nonEmpty.default('org'),
    /** Remove the credential headers before the request reaches the model server. */
    strip_credentials: z.boolean().default(true),
    headers_to_remove: names.default([]),
    realm: headerValue.min(1).default('modelgate'),
  })
  .prefault({});

const logSchema = z
  .strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    decisions: z.boolean().default(true),
    /** Extra header names to redact from any log line, on top of the built-in credential headers. */
    redact_headers: names.default([]),
  })
  .prefault({});

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  log: logSchema,
  identity: identitySchema,
  policy: policySchema,
  answer: answerSchema,
  limits: limitsSchema.optional(),
  budgets: budgetsSchema.optional(),
  audit: auditSchema.optional(),
  guardrails: guardrailsSchema.optional(),
  ext_proc: extProcSchema.optional(),
  approvals: approvalsSchema.optional(),
});

export type Config = z.infer<typeof configSchema>;
export type JwtIssuerConfig = z.infer<typeof issuerSchema>;
export type JwtConfig = z.infer<typeof jwtSchema>;
export type MtlsConfig = z.infer<typeof mtlsSchema>;
export type ApiKeysConfig = z.infer<typeof apiKeysSchema>;
export type ApiKeyConfig = z.infer<typeof apiKeySchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type AnswerConfig = z.infer<typeof answerSchema>;
