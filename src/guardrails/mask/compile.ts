// Compiles `guardrails.masking` once at load into the ext_proc transformer factory: the caller's roles
// choose the patterns (first matching rule, else all: fail closed), the content type the masker.

import type { ConfigProblem } from '../../config/problems.js';
import type { TransformerFactory } from '../../extproc/transform.js';
import { unknownRoleProblems } from '../../policy/roles.js';
import { builtinPattern } from './builtin.js';
import type { CustomPatternConfig, MaskingConfig } from './config.js';
import { jsonMasker } from './json-body.js';
import { matcher, type Matcher } from './matcher.js';
import { regexPattern, type CompiledPattern } from './pattern.js';
import { sseMasker } from './sse-body.js';
import { textMasker } from './text-body.js';
import { withheldBody } from './withheld.js';

export interface CompiledMasking {
  readonly factory: TransformerFactory;
  /** The pattern ids masked for a caller with these roles (`[]`: shown unmasked). */
  patternsFor(roles: readonly string[]): readonly string[];
}

/** Which body masker a response's media type gets; undefined: passed through (binary, images, audio). */
export type BodyKind = 'json' | 'sse' | 'text';

export function bodyKind(contentType: string): BodyKind | undefined {
  const media = contentType.split(';', 1)[0]!.trim();
  if (media === 'text/event-stream') return 'sse';
  if (media === 'application/json' || media.endsWith('+json')) return 'json';
  // No content type at all could be anything, text included: masked as text rather than trusted.
  if (media === '' || media.startsWith('text/') || media === 'application/x-ndjson' || media === 'application/jsonl') return 'text';
  return undefined;
}

function customPattern(p: CustomPatternConfig): CompiledPattern {
  const regex = new RegExp(p.regex, p.case_insensitive ? 'gi' : 'g');
  // A custom regex may span whitespace, so a stream always holds back its max_length.
  return regexPattern({ kind: p.id, regex, maxLength: p.max_length, hold: 'fixed' });
}

export function compileMasking(config: MaskingConfig): CompiledMasking {
  const patterns = new Map<string, CompiledPattern>();
  for (const id of config.builtin) patterns.set(id, builtinPattern(id));
  for (const p of config.custom) patterns.set(p.id, customPattern(p));
  const build = (ids: readonly string[]): Matcher => matcher(ids.map((id) => patterns.get(id)!));
  const everything = build([...patterns.keys()]);
  const rules = config.rules.map((r) => ({ roles: new Set(r.roles), ids: r.mask, matcher: build(r.mask) }));

  const matcherFor = (roles: readonly string[]): Matcher => rules.find((r) => roles.some((role) => r.roles.has(role)))?.matcher ?? everything;

  return {
    patternsFor: (roles) => matcherFor(roles).kinds,
    factory: (view) => {
      const m = matcherFor(view.roles);
      if (m.kinds.length === 0) return undefined;
      const kind = bodyKind(view.contentType);
      // A compressed body cannot be read, so it cannot be masked: the client gets an error instead.
      if (kind !== undefined && view.contentEncoding !== 'identity') {
        return withheldBody('masking_encoded_body', `masking applies and the model server sent it ${view.contentEncoding}-encoded`);
      }
      switch (kind) {
        case 'json':
          return jsonMasker({ matcher: m, maxBytes: config.max_json_bytes });
        case 'sse':
          return sseMasker({ matcher: m, maxEventChars: config.max_event_chars });
        case 'text':
          return textMasker(m);
        default:
          return undefined;
      }
    },
  };
}

/** Roles in masking rules must be declared in policy.roles, like everywhere else (policy/roles.ts). */
export function maskingRoleProblems(config: MaskingConfig | undefined, declaredRoles: Iterable<string>): ConfigProblem[] {
  const declared = new Set(declaredRoles);
  return (config?.rules ?? []).flatMap((r, i) => unknownRoleProblems(declared, r.roles, ['guardrails', 'masking', 'rules', i, 'roles']));
}

/**
 * The factory the ext_proc server gets: follows config reloads, compiling each `guardrails.masking`
 * it sees once (the schema already compiled and probed every custom regex when the file loaded).
 * Without the section, every body passes untouched.
 */
export function maskingTransformers(current: () => MaskingConfig | undefined): TransformerFactory {
  let seen: MaskingConfig | undefined;
  let compiledNow: CompiledMasking | undefined;
  return (view) => {
    const config = current();
    if (config === undefined) return undefined;
    if (config !== seen) {
      compiledNow = compileMasking(config);
      seen = config;
    }
    return compiledNow!.factory(view);
  };
}
