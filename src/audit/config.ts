// Schema of the `audit` config section: store, receivers, privacy, Redis sink and report thresholds.

import { z } from 'zod';
import { parseDuration } from './duration.js';
import { exposureProblem } from './receiver-access.js';

const duration = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text);
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: parsed.error });
  return z.NEVER;
});

// Credentials must never reach the audit store, even hashed: a keyed hash of a low-entropy
// secret can be brute-forced by anyone who later obtains the hash key.
// Names tied to a particular deployment (its API-key header, its JWT header) are checked against the
// identity config at load (config/credential-headers.ts); these are credentials anywhere.
const CREDENTIAL_NAME = /authorization|cookie|token|secret|password|passwd|api[-_]?key|credential|session|jwt|assertion|client[-_]?cert/i;

const keptField = z.strictObject({
  /** A request header (ALS `request_headers`, lower-case) or a key of the JSON access-log line. */
  name: z.string().min(1).refine((n) => !CREDENTIAL_NAME.test(n), {
    message: 'looks like a credential; credentials are never stored in the audit trail',
  }),
  mode: z.enum(['hash', 'plain']).default('hash'),
});

const storeSchema = z.strictObject({
  dir: z.string().min(1).default('.modelgate/audit'),
  /** Ed25519 private key (PKCS#8 PEM) that signs segment checkpoints; `modelgate audit keygen` makes one. */
  signing_key_file: z.string().min(1).default('.modelgate/audit-signing.key'),
  segment_max_bytes: z.number().int().min(4096).default(64 * 1024 * 1024),
  segment_max_age: duration.default(3_600_000),
  batch_max_records: z.number().int().min(1).max(100_000).default(512),
  batch_max_delay: duration.default(200),
});

const privacySchema = z.strictObject({
  /** Env var holding the HMAC-SHA-256 key for hashed fields; `hash_key_file` wins when both are set. */
  hash_key_env: z.string().min(1).default('MODELGATE_AUDIT_HASH_KEY'),
  hash_key_file: z.string().min(1).optional(),
  /** The client IP is personal data: hashed by default (still comparable for new-peer alerts). */
  remote_address: z.enum(['hash', 'plain', 'drop']).default('hash'),
  keep_query: z.boolean().default(false),
  keep: z.array(keptField).default([]),
});

const redisSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** `redis://host:port` URLs; more than one, or `cluster: true`, makes a Redis Cluster client. */
  urls: z.array(z.string().min(1)).min(1).default(['redis://127.0.0.1:6379']),
  cluster: z.boolean().default(false),
  stream: z.string().min(1).default('modelgate:audit'),
  max_len: z.number().int().min(1).default(1_000_000),
});

const thresholdsSchema = z.strictObject({
  bucket: duration.default(3_600_000),
  baseline: duration.default(7 * 86_400_000),
  volume_factor: z.number().positive().default(5),
  volume_min_requests: z.number().int().min(1).default(50),
  denial_share: z.number().gt(0).max(1).default(0.5),
  denial_min_requests: z.number().int().min(1).default(20),
  sweep_min_models: z.number().int().min(2).default(6),
  off_hours_min_baseline: z.number().int().min(1).default(50),
  off_hours_min_requests: z.number().int().min(1).default(3),
  new_peer_min_baseline: z.number().int().min(1).default(20),
  correlation_grace: duration.default(60_000),
});

// mTLS for the access-log receiver: who may write into the trail is the certificate's identity,
// checked against an exact list (a CA usually signs for many more workloads than Envoy).
const receiverTlsSchema = z.strictObject({
  cert_file: z.string().min(1),
  key_file: z.string().min(1),
  /** CA bundle client certificates must chain to; a client without one is refused in the handshake. */
  client_ca_file: z.string().min(1),
  /** Exact identities (first URI SAN, else first DNS SAN, as Envoy names a peer) allowed to send. */
  allowed_sans: z.array(z.string().min(1)).min(1),
});

const receiverSchema = z
  .strictObject({
    /** The AccessLogService's own gRPC listener, in `serve` and in `modelgate audit serve`; never the Check port. */
    listen: z.string().min(1).default('127.0.0.1:9194'),
    tls: receiverTlsSchema.optional(),
    max_pending_records: z.number().int().min(1).default(10_000),
    /** Open streams at once (per serving process); one more is refused with RESOURCE_EXHAUSTED. */
    max_streams: z.number().int().min(1).max(10_000).default(32),
    /** Sustained entries per second (per serving process); the excess is dropped and counted. */
    max_entries_per_second: z.number().int().min(1).default(10_000),
    /** Entries above the sustained rate accepted in one burst; default twice the rate. */
    burst_entries: z.number().int().min(1).optional(),
    max_message_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  })
  .superRefine((receiver, ctx) => {
    const problem = exposureProblem(receiver.listen, receiver.tls);
    if (problem) ctx.addIssue({ code: 'custom', path: ['listen'], message: problem });
  });

export const auditSchema = z.strictObject({
  store: storeSchema.prefault({}),
  receiver: receiverSchema.prefault({}),
  file: z
    .strictObject({
      path: z.string().min(1).optional(),
      state_file: z.string().min(1).optional(),
      poll_interval: duration.default(250),
    })
    .prefault({}),
  privacy: privacySchema.prefault({}),
  redis: redisSchema.prefault({}),
  report: thresholdsSchema.prefault({}),
});

export type AuditConfig = z.infer<typeof auditSchema>;
export type ReportThresholds = AuditConfig['report'];
export type PrivacyConfig = AuditConfig['privacy'];

export type ConfigResult = { ok: true; config: AuditConfig } | { ok: false; error: string };

export function parseAuditConfig(input: unknown, origin = 'audit'): ConfigResult {
  const result = auditSchema.safeParse(input ?? {});
  if (result.success) return { ok: true, config: result.data };
  const issue = result.error.issues[0];
  const path = issue ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '';
  return { ok: false, error: `${origin}${path}: ${issue?.message ?? 'invalid'}` };
}

export function defaultAuditConfig(): AuditConfig {
  return auditSchema.parse({});
}
