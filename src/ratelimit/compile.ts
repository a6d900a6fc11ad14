// Compiles the `limits` config once at load into a planner: which buckets a request is charged
// against, under which keys, at what cost.

import picomatch from 'picomatch';
import type { LimitRequest } from './limiter.js';
import { PERIOD_MS, type BucketConfig, type LimitsConfig } from './config.js';
import { KeyCache, type SubjectKeyEntry, type SubjectKeys } from './keys.js';
import { NO_BLOCKS, type BlockPolicy, type BucketCharge } from './take-tokens.js';
import type { BudgetsConfig } from '../budget/config.js';
import { compileBudgets, type CompiledBudgets } from '../budget/plan.js';
import type { Admission } from '../budget/admission.js';
import type { EstimateProblem } from '../budget/estimate.js';

export interface PlannedCharge extends BucketCharge {
  readonly bucketId: string;
  readonly failMode: 'fail_open' | 'fail_closed';
  /** This bucket's item of the RateLimit-Policy header, built at load; report.ts builds it when absent. */
  readonly policyItem?: string;
}

export interface Plan {
  readonly subject: string;
  readonly keys: SubjectKeys;
  readonly charges: readonly PlannedCharge[];
  /**
   * Budget lines and leases (docs/budgets.md), decided in the same script call as the buckets;
   * a problem when a budget applies but no estimate can be made (fail closed).
   */
  readonly admission?: Admission | EstimateProblem | undefined;
}

export interface CompiledLimits {
  readonly config: LimitsConfig;
  readonly policy: BlockPolicy;
  /** The `budgets` section, when configured. */
  readonly budgets?: CompiledBudgets | undefined;
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

/** draft-ietf-httpapi-ratelimit-headers: q = quota (burst), w = seconds to refill it completely. */
export function policyItem(p: Pick<PlannedCharge, 'bucketId' | 'capacity' | 'rate' | 'periodMs'>): string {
  const window = p.rate > 0 ? Math.max(1, Math.ceil((p.capacity * p.periodMs) / p.rate / 1000)) : 0;
  return `"${p.bucketId}";q=${p.capacity}${window > 0 ? `;w=${window}` : ''}`;
}

type BucketPlanner = (r: LimitRequest, keys: KeyCache, entry: SubjectKeyEntry) => PlannedCharge | undefined;

function compileBucket(b: BucketConfig, index: number, tierAttribute: string): BucketPlanner {
  const roles = anyOf(b.match.roles, false);
  const tiers = anyOf(b.match.tiers, false);
  const subjects = anyOf(b.match.subjects, true);
  // Models arrive lower-cased (policy/names.ts), so model globs compare without case.
  const models = b.match.models === undefined ? undefined : picomatch([...b.match.models], { dot: true, nocase: true });
  const actions = anyOf(b.match.actions, false);
  const weights = Object.entries(b.cost.model_weights).map(([glob, weight]) => [picomatch(glob, { dot: true, nocase: true }), weight] as const);
  const bodyPath = b.cost.body_field?.split('.');

  const applies = (r: LimitRequest): boolean =>
    (roles === undefined || r.identity.roles.some(roles)) &&
    (tiers === undefined || tiers(r.identity.attributes[tierAttribute] ?? '')) &&
    (subjects === undefined || subjects(r.identity.subject)) &&
    (models === undefined || models(r.model)) &&
    (actions === undefined || actions(r.action));

  // Without a body field or weights every request costs 1 (= 1 × 1), so skip the lookups.
  const fixedCost = bodyPath === undefined && weights.length === 0;
  const cost = (r: LimitRequest): number => {
    if (fixedCost) return 1;
    // The body is parsed lazily by the pipeline; read it only for limits that price by it.
    const base = bodyPath === undefined ? 1 : bodyNumber(r.body(), bodyPath) ?? b.cost.default;
    const weight = weights.find(([matches]) => matches(r.model))?.[1] ?? 1;
    return base * weight;
  };
  const periodMs = PERIOD_MS[b.per];
  const item = policyItem({ bucketId: b.id, capacity: b.burst, rate: b.rate, periodMs });

  return (r, keys, entry) =>
    applies(r)
      ? {
          bucketId: b.id,
          key: keys.bucket(entry, r.identity.subject, index, b.id, b.per_model ? r.model : undefined),
          capacity: b.burst,
          rate: b.rate,
          periodMs,
          cost: cost(r),
          shadow: b.shadow,
          failMode: b.on_redis_error,
          policyItem: item,
        }
      : undefined;
}

export function compileLimits(config: LimitsConfig, budgetsConfig?: BudgetsConfig): CompiledLimits {
  const prefix = config.redis.key_prefix;
  const budgets = budgetsConfig === undefined ? undefined : compileBudgets(budgetsConfig, prefix);
  const bucketPlanners = config.buckets.map((b, i) => compileBucket(b, i, config.tier_attribute));
  const keys = new KeyCache(prefix);
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
    budgets,
    plan: (request) => {
      const subject = request.identity.subject;
      // The budget root decides the hash tag of every key of the check (keys.ts).
      const root = budgets?.root(request);
      const entry = keys.subject(subject, root?.tag);
      const charges: PlannedCharge[] = [];
      for (const bucket of bucketPlanners) {
        const charge = bucket(request, keys, entry);
        if (charge !== undefined) charges.push(charge);
      }
      if (root === undefined) return { subject, keys: entry.keys, charges };
      return { subject, keys: entry.keys, charges, admission: budgets!.admission(request, root) };
    },
  };
}
