// Compiles the `limits` config once at load into a planner: which buckets a request is charged
// against, under which keys, at what cost.

import picomatch from 'picomatch';
import type { LimitRequest } from './limiter.js';
import { PERIOD_MS, type BucketConfig, type LimitsConfig } from './config.js';
import { bucketKey, subjectKeys, type SubjectKeys } from './keys.js';
import { NO_BLOCKS, type BlockPolicy, type BucketCharge } from './take-tokens.js';

export interface PlannedCharge extends BucketCharge {
  readonly bucketId: string;
  readonly failMode: 'fail_open' | 'fail_closed';
}

export interface Plan {
  readonly subject: string;
  readonly keys: SubjectKeys;
  readonly charges: readonly PlannedCharge[];
}

export interface CompiledLimits {
  readonly config: LimitsConfig;
  readonly policy: BlockPolicy;
  plan(request: LimitRequest): Plan;
}

type Test = (value: string) => boolean;

function anyOf(values: readonly string[] | undefined, glob: boolean): Test | undefined {
  if (values === undefined) return undefined;
  if (glob) return picomatch([...values], { dot: true });
  const set = new Set(values);
  return (value) => set.has(value);
}

/** Reads a dotted path from a parsed JSON body; a usable cost is a finite number ≥ 0. */
function bodyNumber(body: unknown, path: readonly string[]): number | undefined {
  let node: unknown = body;
  for (const part of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === 'number' && Number.isFinite(node) && node >= 0 ? node : undefined;
}

function compileBucket(b: BucketConfig, tierAttribute: string, prefix: string) {
  const roles = anyOf(b.match.roles, false);
  const tiers = anyOf(b.match.tiers, false);
  const subjects = anyOf(b.match.subjects, true);
  const models = anyOf(b.match.models, true);
  const actions = anyOf(b.match.actions, false);
  const weights = Object.entries(b.cost.model_weights).map(([glob, weight]) => [picomatch(glob, { dot: true }), weight] as const);
  const bodyPath = b.cost.body_field?.split('.');

  const applies = (r: LimitRequest): boolean =>
    (roles === undefined || r.identity.roles.some(roles)) &&
    (tiers === undefined || tiers(r.identity.attributes[tierAttribute] ?? '')) &&
    (subjects === undefined || subjects(r.identity.subject)) &&
    (models === undefined || models(r.model)) &&
    (actions === undefined || actions(r.action));

  const cost = (r: LimitRequest): number => {
    // The body is parsed lazily by the pipeline; read it only for limits that price by it.
    const base = bodyPath === undefined ? 1 : bodyNumber(r.body(), bodyPath) ?? b.cost.default;
    const weight = weights.find(([matches]) => matches(r.model))?.[1] ?? 1;
    return base * weight;
  };

  return (r: LimitRequest): PlannedCharge | undefined =>
    applies(r)
      ? {
          bucketId: b.id,
          key: bucketKey(prefix, r.identity.subject, b.id, b.per_model ? r.model : undefined),
          capacity: b.burst,
          rate: b.rate,
          periodMs: PERIOD_MS[b.per],
          cost: cost(r),
          shadow: b.shadow,
          failMode: b.on_redis_error,
        }
      : undefined;
}

export function compileLimits(config: LimitsConfig): CompiledLimits {
  const prefix = config.redis.key_prefix;
  const buckets = config.buckets.map((b) => compileBucket(b, config.tier_attribute, prefix));
  const block = config.block;
  const policy: BlockPolicy =
    block === undefined
      ? NO_BLOCKS
      : {
          afterViolations: block.after_violations,
          windowMs: Math.ceil(block.window_seconds * 1000),
          baseMs: Math.ceil(block.base_seconds * 1000),
          factor: block.factor,
          maxMs: Math.ceil(block.max_seconds * 1000),
          forgetMs: Math.ceil(block.forget_after_seconds * 1000),
        };
  return {
    config,
    policy,
    plan: (request) => ({
      subject: request.identity.subject,
      keys: subjectKeys(prefix, request.identity.subject),
      charges: buckets.map((bucket) => bucket(request)).filter((c): c is PlannedCharge => c !== undefined),
    }),
  };
}
