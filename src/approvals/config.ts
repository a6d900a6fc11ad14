// Schema of the `approvals` config section: where pending requests and grants live, how long they
// last, and the approvers' own listener (never the metrics port, never the Check port).

import { z } from 'zod';
import { parseDuration } from '../audit/duration.js';
import { isLoopbackAddress } from '../net/listen.js';

const duration = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text);
  if (parsed.ok) return parsed.ms;
  ctx.addIssue({ code: 'custom', message: parsed.error });
  return z.NEVER;
});

const listenAddress = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'expected host:port');

const redisSchema = z.strictObject({
  /** Same URL forms as limits.redis.url; a separate connection and key prefix, so it may be the same server. */
  url: z.string().regex(/^rediss?(\+cluster)?:\/\//, 'must start with redis://, rediss://, redis+cluster:// or rediss+cluster://'),
  tls_ca_file: z.string().min(1).optional(),
  /** One hash tag for every key, so multi-key writes and listings stay on one Redis Cluster slot. */
  key_prefix: z.string().min(1).default('modelgate:{approvals}:'),
  /** A grant lookup that takes longer fails the check closed (503), within Envoy's ext_authz budget. */
  timeout_ms: z.number().int().min(10).max(5_000).default(100),
});

const tlsSchema = z.strictObject({
  cert_file: z.string().min(1),
  key_file: z.string().min(1),
  /** The CA that signs approvers' client certificates; without it only JWT approvers can act. */
  client_ca_file: z.string().min(1).optional(),
});

export const approvalsSchema = z
  .strictObject({
    /** The approvers' HTTP(S) endpoint. Beyond loopback it must serve TLS. */
    listen: listenAddress.default('127.0.0.1:9195'),
    tls: tlsSchema.optional(),
    /** Absent: pending requests and grants live in this process only (one replica). */
    redis: redisSchema.optional(),
    /** How long an unanswered request stays pending. */
    pending_ttl: duration.default(15 * 60_000),
    /** The grant length when an approver names none (`--for`). */
    default_grant: duration.default(3_600_000),
    /** The longest grant an approver may give. */
    max_grant: duration.default(8 * 3_600_000),
  })
  .refine((a) => a.default_grant <= a.max_grant, { message: 'must not exceed max_grant', path: ['default_grant'] })
  .refine((a) => a.tls !== undefined || isLoopbackAddress(a.listen), {
    message: 'beyond loopback the approvals endpoint must serve TLS (approvals.tls): approvers send credentials to it',
    path: ['listen'],
  });

export type ApprovalsConfig = z.infer<typeof approvalsSchema>;
