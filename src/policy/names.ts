// Which model and action names a check may carry, and the one canonical case models compare in.
//
// Upstreams disagree with a literal comparison: some trim, some strip `;params`, some look models
// up case-insensitively, so `Churn`, `churn ` and `churn\u200b` would slip past a deny on `churn`
// and still reach it. A name is therefore first held to a safe character set (configurable, see
// `policy.targets.names.pattern`) and a model is then compared, bucketed and logged in lower case.

import { z } from 'zod';

/** Real ids fit: `gpt-4o-mini`, `meta-llama/Llama-3-8B-Instruct`, `claude-3-5-sonnet@20240620`, `llama3:8b`. */
export const DEFAULT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$';

/** Every configured pattern must refuse these: each reads as `churn` to some upstream or log reader. */
const UNSAFE_SAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['churn ', 'a trailing space'],
  [' churn', 'a leading space'],
  ['chu rn', 'a space'],
  ['churn\t', 'a tab'],
  ['churn;v=1', "a ';'"],
  ['churn\n', 'a line feed'],
  ['churn\u0000', 'a NUL'],
  ['churn\u200b', 'a zero-width space'],
  ['churn\u00a0', 'a no-break space'],
  ['', 'an empty name'],
];

function patternProblem(pattern: string): string | undefined {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (error) {
    return `invalid regular expression: ${(error as Error).message}`;
  }
  if (!pattern.startsWith('^') || !pattern.endsWith('$')) return 'must be anchored: start with ^ and end with $';
  for (const [sample, what] of UNSAFE_SAMPLES) {
    if (re.test(sample)) return `must refuse names with ${what} (${JSON.stringify(sample)} matches)`;
  }
  return undefined;
}

export const targetNamesSchema = z
  .strictObject({
    /** Model and action names must match this (anchored) regular expression; tested once per check. */
    pattern: z
      .string()
      .default(DEFAULT_NAME_PATTERN)
      .superRefine((pattern, ctx) => {
        const problem = patternProblem(pattern);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }),
  })
  .prefault({});

export type TargetNamesConfig = z.infer<typeof targetNamesSchema>;

/** Compiled once at load. */
export function nameChecker(names: TargetNamesConfig): (name: string) => boolean {
  const re = new RegExp(names.pattern);
  return (name) => re.test(name);
}

/** The form a model is matched, bucketed, labelled and logged in. */
export function canonicalModel(model: string): string {
  return model.toLowerCase();
}
