// Compares one answer with a case's expectations, field by field, into readable mismatches.

import type { HarnessRun } from './harness.js';
import type { CaseExpect } from './test-file.js';

export interface Mismatch {
  readonly field: string;
  readonly expected: string;
  readonly actual: string;
}

const show = (v: unknown): string => (v === undefined || v === null ? '(none)' : Array.isArray(v) ? `[${v.join(', ')}]` : String(v));

/** Headers the answer sets: upstream and client headers on allow, client headers on deny. */
export function answerHeaders(run: HarnessRun): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of [...run.answer.upstreamHeaders, ...run.answer.clientHeaders]) out.set(k.toLowerCase(), v);
  return out;
}

export function compare(expect: CaseExpect, run: HarnessRun): Mismatch[] {
  const { decision, answer } = run;
  const out: Mismatch[] = [];
  const check = (field: string, expected: unknown, actual: unknown) => {
    if (expected === undefined) return;
    if (show(expected) !== show(actual)) out.push({ field, expected: show(expected), actual: show(actual) });
  };
  check('decision', expect.decision, decision.allowed ? 'allow' : 'deny');
  check('reason', expect.reason, decision.reason);
  check('rule', expect.rule, decision.ruleId);
  check('status', expect.status, answer.httpStatus);
  check('model', expect.model, decision.model);
  check('action', expect.action, decision.action);
  check('subject', expect.subject, decision.identity?.subject);
  if (expect.shadow_rules) check('shadow_rules', [...expect.shadow_rules].sort(), [...decision.shadowRules].sort());
  if (expect.headers) {
    const headers = answerHeaders(run);
    for (const [name, value] of Object.entries(expect.headers)) check(`headers.${name.toLowerCase()}`, value, headers.get(name.toLowerCase()));
  }
  if (expect.headers_removed) {
    const removed = new Set(answer.headersToRemove);
    for (const name of expect.headers_removed) {
      if (!removed.has(name.toLowerCase())) out.push({ field: 'headers_removed', expected: `includes ${name}`, actual: show(answer.headersToRemove) });
    }
  }
  return out;
}
