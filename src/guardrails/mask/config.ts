// Schema of `guardrails.masking`: patterns masked in model responses on the ext_proc path, and which
// roles see which patterns masked. Custom regular expressions are compiled and probed here, at load.

import { z } from 'zod';
import { BUILTIN_IDS } from './builtin.js';

/** Pattern ids become the replacement (`[id]`) and a metadata key (`masked_<id>`): keep them plain. */
const patternId = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'lower-case letters, digits and "_", starting with a letter (at most 32)');

/** Strings a regex is tried on at load: one that matches the empty string in any of them is refused. */
const EMPTY_PROBES = ['', 'a', ' ', '0', 'a b', 'A-1_@.x', '\n'];

/** Why `source` cannot be a custom pattern, or undefined when it can. */
export function customRegexProblem(source: string, caseInsensitive: boolean): string | undefined {
  let re: RegExp;
  try {
    re = new RegExp(source, caseInsensitive ? 'gi' : 'g');
  } catch (error) {
    return `invalid regular expression: ${(error as Error).message}`;
  }
  for (const probe of EMPTY_PROBES) {
    re.lastIndex = 0;
    for (let m = re.exec(probe); m !== null; m = re.exec(probe)) {
      // An empty match masks nothing and stalls a scan: a pattern that can produce one is a mistake.
      if (m[0].length === 0) return 'can match the empty string (every match must consume at least one character)';
    }
  }
  return undefined;
}

const customSchema = z
  .strictObject({
    id: patternId,
    /** JavaScript syntax, compiled once at load; matched against decoded string values, never raw JSON. */
    regex: z.string().min(1),
    case_insensitive: z.boolean().default(false),
    /**
     * Longest match masked at once; a longer match is masked in pieces of this length from its start.
     * A streamed response holds back this many characters (plus a margin) per choice while this
     * pattern applies, so it is also the added latency in characters.
     */
    max_length: z.number().int().min(1).max(4096).default(128),
  })
  .superRefine((p, ctx) => {
    const problem = customRegexProblem(p.regex, p.case_insensitive);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: ['regex'] });
  });

const ruleSchema = z.strictObject({
  /** The rule applies to a caller holding any of these roles (the ext_authz `roles` metadata). */
  roles: z.array(z.string().min(1)).min(1),
  /** Pattern ids masked for these roles; `[]` shows them responses unmasked. */
  mask: z.array(patternId),
});

export const maskingSchema = z
  .strictObject({
    /** Built-in patterns in force (docs/guardrails.md, "Masking in responses"). */
    builtin: z.array(z.enum(BUILTIN_IDS)).default([...BUILTIN_IDS]),
    custom: z.array(customSchema).default([]),
    /**
     * Tried in order; the first rule naming one of the caller's roles decides what is masked. A
     * caller no rule names gets every configured pattern masked: fail closed.
     */
    rules: z.array(ruleSchema).default([]),
    /** JSON bodies are buffered to be masked; a bigger one is replaced by a JSON error (fail closed). */
    max_json_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
    /** One SSE event longer than this (characters) ends the stream with an error event (fail closed). */
    max_event_chars: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
  })
  .superRefine((m, ctx) => {
    const known = new Map<string, string>(m.builtin.map((id) => [id, 'builtin']));
    m.custom.forEach((p, i) => {
      if (known.has(p.id)) ctx.addIssue({ code: 'custom', message: `duplicate pattern id '${p.id}' (also a ${known.get(p.id)} pattern)`, path: ['custom', i, 'id'] });
      else known.set(p.id, 'custom');
    });
    m.rules.forEach((r, i) =>
      r.mask.forEach((id, j) => {
        if (known.has(id)) return;
        const hint = (BUILTIN_IDS as readonly string[]).includes(id) ? ' (a built-in left out of builtin)' : '';
        ctx.addIssue({ code: 'custom', message: `unknown pattern '${id}'${hint}; configured: ${[...known.keys()].join(', ') || 'none'}`, path: ['rules', i, 'mask', j] });
      }),
    );
  });

export type MaskingConfig = z.infer<typeof maskingSchema>;
export type CustomPatternConfig = MaskingConfig['custom'][number];
