// Schema of the `limits` config section: token buckets, where they apply, and how the limiter behaves.

import { z } from 'zod';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "." and "-" only');
const names = z.array(z.string().min(1)).min(1);

/** A bucket applies when every selector present matches (each selector is any-of). */
const matchSchema = z.strictObject({
  roles: names.optional(),
  /** Values of the subject attribute named by `tier_attribute`. */
  tiers: names.optional(),
  /** Subject ids; globs allowed. */
  subjects: names.optional(),
  /** Model names; globs allowed (picomatch). */
  models: names.optional(),
  actions: names.optional(),
});

const costSchema = z.strictObject({
  /** Dotted path of a JSON body field that gives the cost, e.g. `max_tokens`. */
  body_field: z.string().min(1).optional(),
  /** Cost when `body_field` is set but the body is absent, partial, or lacks a usable number. */
  default: z.number().nonnegative().default(1),
  /** Multiplier by model glob; the first matching glob wins, unmatched models weigh 1. */
  model_weights: z.record(z.string().min(1), z.number().nonnegative()).default({}),
});

export const PERIOD_MS = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

const bucketSchema = z
  .strictObject({
    id,
    match: matchSchema.prefault({}),
    /** Tokens added per `per`; 0 means the bucket never refills. */
    rate: z.number().nonnegative().max(1e9),
    per: z.enum(['second', 'minute', 'hour', 'day']).default('second'),
    /** Capacity; defaults to the rate (at least 1). */
    burst: z.number().int().nonnegative().max(1e9).optional(),
    /** One bucket per model for each subject instead of one shared across the matched models. */
    per_model: z.boolean().default(false),
    cost: costSchema.prefault({}),
    /**
     * What a check does when Redis fails: `fail_open` charges a local in-memory bucket (the limit
     * then holds per replica), `fail_closed` answers limiter_unavailable (HTTP 503).
     */
    on_redis_error: z.enum(['fail_open', 'fail_closed']).default('fail_open'),
    /** Count and report in `shadowDenied`, never deny. */
    shadow: z.boolean().default(false),
  })
  .transform((b) => ({ ...b, burst: b.burst ?? Math.max(1, Math.ceil(b.rate)) }));

const redisSchema = z.strictObject({
  /**
   * `redis://[user:pass@]host:port[/db]`, `rediss://…` for TLS, or
   * `redis+cluster://[user:pass@]host:port,host:port` (`rediss+cluster://` for TLS) for Redis Cluster.
   * Absent: the embedded in-memory limiter (single replica only).
   */
  url: z.string().regex(/^rediss?(\+cluster)?:\/\//, 'must start with redis://, rediss://, redis+cluster:// or rediss+cluster://').optional(),
  /** PEM file of the CA that signed the Redis server certificate (TLS URLs). */
  tls_ca_file: z.string().min(1).optional(),
  key_prefix: z.string().regex(/^[^{}]*$/, 'must not contain "{" or "}" (used for hash tags)').default('modelgate:rl:'),
  /** Upper bound on every Redis call; keep well under Envoy's ext_authz timeout (200 ms by default). */
  timeout_ms: z.number().int().positive().max(10_000).default(50),
  /** Buckets that never refill (rate 0) and idle block state are forgotten after this long. */
  max_idle_seconds: z.number().int().positive().default(86_400),
  /** Remember over-limit buckets locally until they could pass again, sparing Redis the flood. */
  deny_cache: z.boolean().default(true),
  /**
   * Send the checks that arrive in the same event-loop turn as one script call that decides each
   * of them in order, each still all-or-none (docs/rate-limits.md). Standalone Redis only: on a
   * Cluster each check keeps its own call.
   */
  batch: z.boolean().default(false),
  /**
   * Stop waiting on a Redis known to be down. The circuit opens when the connection is not ready
   * (refused, closed, reconnecting) or after `failures` calls in a row failed or timed out while
   * Redis answered nothing else; while open, each limit applies its `on_redis_error` at once and
   * a PING every `probe_ms` decides when checks go to Redis again.
   */
  circuit: z
    .strictObject({
      failures: z.number().int().positive().max(1_000).default(5),
      probe_ms: z.number().int().positive().max(60_000).default(100),
    })
    .prefault({}),
});

const blockSchema = z.strictObject({
  /** Denials within `window_seconds` that start a block. */
  after_violations: z.number().int().positive().default(10),
  window_seconds: z.number().positive().default(60),
  /** First block length; each further block within `forget_after_seconds` multiplies it by `factor`. */
  base_seconds: z.number().positive().default(30),
  factor: z.number().min(1).default(2),
  max_seconds: z.number().positive().default(3_600),
  forget_after_seconds: z.number().positive().default(86_400),
});

const loadFactorSchema = z.strictObject({
  /** Redis key holding a number in [0, 1] that multiplies every refill rate; missing means 1. */
  key: z.string().min(1).default('modelgate:load_factor'),
  refresh_ms: z.number().int().positive().default(1_000),
  /** Floor for the factor, so a bad value cannot stop refills entirely. */
  min: z.number().min(0).max(1).default(0.05),
});

export const limitsSchema = z
  .strictObject({
    redis: redisSchema.prefault({}),
    /** `ietf`: RateLimit-Policy / RateLimit (httpapi draft); `x_ratelimit`: X-RateLimit-*; `none`. */
    headers: z.enum(['ietf', 'x_ratelimit', 'none']).default('ietf'),
    /** Subject attribute whose value `match.tiers` compares against. */
    tier_attribute: z.string().min(1).default('tier'),
    /** Upper bound on in-memory entries; only full-again buckets are forgotten, a new one beyond it gets the fail mode (docs/rate-limits.md). */
    memory_max_entries: z.number().int().positive().default(100_000),
    block: blockSchema.optional(),
    load_factor: loadFactorSchema.optional(),
    buckets: z.array(bucketSchema).default([]),
  })
  .superRefine((limits, ctx) => {
    const seen = new Set<string>();
    limits.buckets.forEach((bucket, index) => {
      if (seen.has(bucket.id)) {
        ctx.addIssue({ code: 'custom', path: ['buckets', index, 'id'], message: `duplicate bucket id '${bucket.id}'` });
      }
      seen.add(bucket.id);
    });
  });

export type LimitsConfig = z.infer<typeof limitsSchema>;
export type BucketConfig = LimitsConfig['buckets'][number];
export type BlockConfig = NonNullable<LimitsConfig['block']>;
