// Explains one check stage by stage: which identity source answered and with what, every rule
// and why it did or did not match, the buckets charged, and the answer the proxy would get.

import type { Config, RuleConfig } from '../config/schema.js';
import type { Answer } from '../decision/answer.js';
import type { Decision } from '../decision/decision.js';
import type { IdentityResult } from '../identity/result.js';
import type { CheckInput } from '../check/check-input.js';
import { lazyJsonBody } from '../check/body.js';
import type { RuleTrace } from '../check/trace.js';
import { compileLimits } from '../ratelimit/compile.js';
import type { HarnessRun } from '../policy-test/harness.js';

export interface SourceView {
  readonly name: 'jwt' | 'api_key' | 'mtls';
  /** What carries this source's credential, and whether the request has it: the source's own answers. */
  readonly carrier: string;
  readonly present: boolean;
}

export interface RuleView {
  readonly id: string;
  readonly effect: RuleTrace['effect'];
  readonly shadow: boolean;
  /** undefined: not evaluated, a deny rule decided before it. */
  readonly outcome?: RuleTrace['outcome'];
  readonly why: string;
  readonly decided: boolean;
  /** `input`: a guardrails.input rule (phase 3b, over the body), not a policy rule. */
  readonly stage?: 'input';
}

export interface BucketView {
  readonly id: string;
  readonly cost: number;
  readonly capacity: number;
  readonly refill: string;
  readonly shadow: boolean;
}

export interface Explanation {
  readonly request: { method: string; path: string; host: string; requestId: string; contextExtensions: Record<string, string>; body?: string };
  readonly identity: { readonly sources: readonly SourceView[]; readonly result?: IdentityResult };
  readonly target?: { model: string; action: string };
  readonly rules: readonly RuleView[];
  readonly limits: { readonly reached: boolean; readonly buckets: readonly BucketView[]; readonly metadata: Record<string, string | number>; readonly shadowDenied: readonly string[] };
  readonly decision: Decision;
  readonly answer: Answer;
}

export function explain(config: Config, run: HarnessRun): Explanation {
  const { input, decision, trace } = run;
  const traced = new Map(trace.rules.map((r) => [r.id, r]));
  const decidingRule = decision.ruleId;
  // Policy rules, then input rules (their ids never collide, guardrails/input/compile.ts): the order they run in.
  const view = (rule: RuleLike, effect: RuleView['effect'], stage?: 'input'): RuleView => {
    const t = traced.get(rule.id);
    return {
      id: rule.id,
      effect,
      shadow: rule.shadow,
      outcome: t?.outcome,
      why: t ? why(rule, t.outcome, decision, input) : 'not evaluated: the check ended before this rule',
      decided: rule.id === decidingRule,
      ...(stage ? { stage } : {}),
    };
  };
  const rules: RuleView[] = [
    ...config.policy.rules.map((rule) => view(rule, rule.effect)),
    ...(config.guardrails?.input?.rules ?? []).map((rule) => view(rule, 'deny', 'input')),
  ];
  const reached = decision.limit !== undefined;
  return {
    request: {
      method: input.method,
      path: input.path,
      host: input.host,
      requestId: input.requestId,
      contextExtensions: { ...input.contextExtensions },
      body: input.body ? `${input.body.text.length} bytes${input.body.partial ? ', partial (cut by Envoy)' : ''}` : undefined,
    },
    identity: { sources: run.identitySources.map((s) => ({ name: s.name, carrier: s.carrier(input), present: s.present(input) })), result: trace.identity },
    target: decision.model && decision.action ? { model: decision.model, action: decision.action } : undefined,
    rules: trace.rules.length > 0 || decision.identity ? rules : [],
    limits: {
      reached,
      buckets: reached ? bucketsFor(config, decision, input) : [],
      metadata: { ...(decision.limit?.metadata ?? {}) },
      shadowDenied: decision.limit?.shadowDenied ?? [],
    },
    decision,
    answer: run.answer,
  };
}

const list = (values: readonly string[] | undefined) => `[${(values ?? []).join(', ')}]`;

/** What `why` reads of a rule: policy rules and input rules share these selectors and `when`. */
type RuleLike = Pick<RuleConfig, 'id' | 'shadow' | 'when' | 'models' | 'actions' | 'subjects' | 'roles'>;

function why(rule: RuleLike, outcome: RuleTrace['outcome'], decision: Decision, input: CheckInput): string {
  const id = decision.identity;
  switch (outcome) {
    case 'matched':
      return rule.when ? `matches (condition true: ${rule.when})` : 'matches';
    case 'model':
      return `model '${decision.model ?? '?'}' is not in ${list(rule.models)}`;
    case 'action':
      return `action '${decision.action ?? '?'}' is not in ${list(rule.actions)}`;
    case 'subject':
      return `subject '${id?.subject ?? '?'}' is not in ${list(rule.subjects)}`;
    case 'role':
      return `needs a role in ${list(rule.roles)}; caller has ${list(id?.roles)}`;
    case 'condition_false':
      return `condition is false: ${rule.when}`;
    case 'condition_error':
      return `condition could not be evaluated (a missing field or a type error): ${rule.when}`;
    case 'body_missing':
      return `condition reads the body, and ${input.body ? 'Envoy cut it (partial) or it is not a JSON object' : 'none was sent (Envoy with_request_body)'}`;
  }
}

function bucketsFor(config: Config, decision: Decision, input: CheckInput): BucketView[] {
  if (!config.limits || config.limits.buckets.length === 0 || !decision.identity || !decision.model || !decision.action) return [];
  const plan = compileLimits(config.limits).plan({
    identity: decision.identity,
    model: decision.model,
    action: decision.action,
    requestId: input.requestId,
    body: lazyJsonBody(input.body),
    now: 0,
  });
  const byId = new Map(config.limits.buckets.map((b) => [b.id, b]));
  return plan.charges.map((c) => {
    const b = byId.get(c.bucketId);
    return { id: c.bucketId, cost: c.cost, capacity: c.capacity, refill: b ? `${b.rate} per ${b.per}` : '?', shadow: c.shadow };
  });
}
