// Schema of `guardrails.input`: deny rules over chat and completion request bodies, and the bounds a
// body must keep before any rule reads it (docs/guardrails.md "Input rules").

import { z } from 'zod';

const names = z.array(z.string().min(1));

export const inputRuleSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'rule ids are letters, digits, _ . : -'),
  description: z.string().optional(),
  // Selectors: the same globs and semantics as policy rules (roles: any of; absent: everyone).
  roles: names.optional(),
  subjects: names.optional(),
  models: names.min(1).default(['*']),
  actions: names.min(1).default(['*']),
  /** CEL over subject, request, model, action, context, body and `input` (the body's summary); true denies. */
  when: z.string().min(1),
  /** Evaluate, log and count, never deny. */
  shadow: z.boolean().default(false),
});

/**
 * Bounds checked before any rule reads the body, whenever an input rule selects the request: a body
 * past one of them is denied (input_rejected) by an enforced rule, reported by a shadow one.
 */
export const inputLimitsSchema = z.strictObject({
  /** UTF-8 bytes of the body; keep it at or under Envoy's `max_request_bytes` (a cut body is refused as partial anyway). */
  max_body_bytes: z.number().int().min(1).max(16 * 1024 * 1024).default(256 * 1024),
  /** Entries of `messages`. */
  max_messages: z.number().int().min(1).max(100_000).default(1000),
  /** Nesting of JSON objects and arrays, the body object itself being depth 1. */
  max_depth: z.number().int().min(2).max(1000).default(32),
  /**
   * Characters of each text (`input.user_text`, `input.system_text`, `input.all_text`) that regexes
   * scan: the cost of a `matches` is bounded by this. Text past it is not scanned
   * (`input.text_truncated` says so).
   */
  max_scan_chars: z.number().int().min(256).max(1024 * 1024).default(32 * 1024),
});

export const inputRulesSchema = z.strictObject({
  limits: inputLimitsSchema.prefault({}),
  rules: z.array(inputRuleSchema).default([]),
});

export type InputRulesConfig = z.infer<typeof inputRulesSchema>;
export type InputRuleConfig = z.infer<typeof inputRuleSchema>;
export type InputLimits = z.infer<typeof inputLimitsSchema>;
