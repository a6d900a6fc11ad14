// The CEL environment of input rules: the policy's variables plus `input`, and a `matches` whose
// pattern must be a constant, compiled once at load (regex.ts), so no check ever compiles a regex.

import { celEnv, type CelEnv } from '@bufbuild/cel';
import { CEL_DECLARATIONS, T, type CelT } from '../../policy/cel-types.js';
import { compilePattern } from './regex.js';

const list = (elem: CelT): CelT => ({ kind: 'list', elem });

/** What a `when` of an input rule may read; `input` is InputView (input-view.ts), field for field. */
export const INPUT_DECLARATIONS: Readonly<Record<string, CelT>> = {
  ...CEL_DECLARATIONS,
  input: {
    kind: 'object',
    name: 'input',
    fields: {
      message_count: T.int,
      total_chars: T.int,
      roles: list(T.string),
      tool_count: T.int,
      tool_names: list(T.string),
      user_text: T.string,
      system_text: T.string,
      all_text: T.string,
      text_truncated: T.bool,
    },
  },
};

/**
 * One environment per loaded rule set: `patterns` is filled while its rules compile and read by
 * `matches` at check time (a Map lookup). A pattern missing from it cannot happen after
 * `constantPatternProblems`; if it did, the throw makes the condition an error (fail closed).
 */
export function inputCelEnv(patterns: ReadonlyMap<string, RegExp>): CelEnv {
  return celEnv({
    re2: {
      compile(pattern) {
        const regex = patterns.get(pattern);
        if (!regex) throw new Error('pattern not compiled at load');
        return regex;
      },
    },
  });
}

type Node = { exprKind?: { case?: string; value?: Record<string, unknown> } };

/**
 * Finds every `matches` call of a parsed expression; each pattern must be a string literal, which
 * is compiled into `patterns` (or reported). A pattern built at run time would be compiled per
 * check and could be chosen by the caller: refused.
 */
export function constantPatternProblems(parsed: unknown, patterns: Map<string, RegExp>): string[] {
  const problems: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (typeof value !== 'object' || value === null) return;
    const kind = (value as Node).exprKind;
    if (kind?.case === 'callExpr' && kind.value?.function === 'matches') {
      const args = kind.value.args as Node[];
      const pattern = args[args.length - 1]?.exprKind;
      const constant = pattern?.case === 'constExpr' ? (pattern.value?.constantKind as { case: string; value: unknown }) : undefined;
      if (constant?.case !== 'stringValue') {
        problems.push('matches() needs a string literal pattern (compiled once at load)');
      } else if (!patterns.has(constant.value as string)) {
        const compiled = compilePattern(constant.value as string);
        if (compiled.ok) patterns.set(constant.value as string, compiled.regex);
        else problems.push(compiled.problem);
      }
    }
    for (const child of Object.values(value)) visit(child);
  };
  visit(parsed);
  return problems;
}
