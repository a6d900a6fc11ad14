// The input-rules stage: for the rules whose selectors match, checks the body's bounds and shape,
// then each rule's condition. An enforced rule that fires denies (input_rejected); a shadow rule
// only reports. A request no rule selects never has its body parsed.

import type { RuleTrace } from '../../check/trace.js';
import { denied, type Denied } from '../../decision/decision.js';
import type { RuleRequest } from '../../policy/rule-request.js';
import { selectorMiss } from '../../policy/selectors.js';
import { BODY_PROBLEMS, depthExceeds, textProblem, type BodyProblem } from './body-bounds.js';
import type { CompiledInputRule, CompiledInputRules } from './compile.js';
import { InputActivation, InputView } from './input-view.js';
import { isBodyProblem, summarizeBody } from './summary.js';

export type InputVerdict = { readonly allowed: true; readonly shadowRules: readonly string[] } | Denied;

/**
 * `shadowRules`: the policy's shadow hits so far; input rules' hits are appended (ids never collide,
 * compile.ts). `trace` (a traced check's rules) gets one entry per input rule, as a deny rule.
 */
export function screenInput(compiled: CompiledInputRules | undefined, req: RuleRequest, shadowRules: readonly string[], trace?: RuleTrace[]): InputVerdict {
  if (!compiled) return { allowed: true, shadowRules };
  let hits: string[] | undefined;
  let read: { problem?: BodyProblem; activation?: InputActivation } | undefined;
  for (const rule of compiled.rules) {
    const miss = selectorMiss(rule, req);
    if (miss) {
      trace?.push({ id: rule.id, effect: 'deny', shadow: rule.shadow, outcome: miss });
      continue;
    }
    // Read on the first selecting rule, once: bounds, parse (shared with the policy's lazy body), shape.
    read ??= readBody(req, compiled);
    const outcome = read.problem ?? rule.condition(read.activation!);
    trace?.push({ id: rule.id, effect: 'deny', shadow: rule.shadow, outcome: TRACED[typeof outcome === 'object' ? 'body' : outcome] });
    if (outcome === 'false') continue;
    if (rule.shadow) {
      (hits ??= [...shadowRules]).push(rule.id);
      continue;
    }
    const fields = { identity: req.identity, model: req.target.model, action: req.target.action, ruleId: rule.id, shadowRules: hits ?? shadowRules, bodyExtra: { rule: rule.id } };
    if (typeof outcome === 'object') return denied(outcome.reason, { ...fields, detail: outcome.detail });
    if (outcome === 'error') return denied('condition_error', { ...fields, detail: 'input rule condition could not be decided' });
    return denied('input_rejected', fields);
  }
  return { allowed: true, shadowRules: hits ?? shadowRules };
}

/** A bad body traces as `body_missing`: no body the rule could read. */
const TRACED = { true: 'matched', false: 'condition_false', error: 'condition_error', body: 'body_missing' } as const;

function readBody(req: RuleRequest, compiled: CompiledInputRules): { problem?: BodyProblem; activation?: InputActivation } {
  const problem = textProblem(req.input.body, compiled.limits);
  if (problem) return { problem };
  const body = req.body();
  if (body === undefined) return { problem: BODY_PROBLEMS.notObject };
  if (depthExceeds(body, compiled.limits.max_depth)) return { problem: BODY_PROBLEMS.tooDeep };
  const summary = summarizeBody(body as Record<string, unknown>, compiled.limits);
  if (isBodyProblem(summary)) return { problem: summary };
  // The activation's `body` is this parse, not a second call to the reader.
  return { activation: new InputActivation({ ...req, body: () => body }, new InputView(summary, compiled.limits.max_scan_chars)) };
}
