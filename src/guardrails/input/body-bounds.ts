// The checks a request body passes before any input rule reads it: present, complete, within the
// byte bound, a JSON object within the nesting bound. Each failure is a fixed reason and detail, never body text.

import type { CheckInput } from '../../check/check-input.js';
import type { InputLimits } from './config.js';

export type BodyProblem = { readonly reason: 'body_required' | 'input_rejected'; readonly detail: string };

/** Fixed details: the decision log says which bound failed, never what the body held. */
export const BODY_PROBLEMS = {
  absent: { reason: 'body_required', detail: 'input rule needs the request body; none sent (with_request_body)' },
  partial: { reason: 'input_rejected', detail: 'body partial (x-envoy-auth-partial-body: true)' },
  tooLarge: { reason: 'input_rejected', detail: 'body over guardrails.input.limits.max_body_bytes' },
  tooDeep: { reason: 'input_rejected', detail: 'body nested past guardrails.input.limits.max_depth' },
  notObject: { reason: 'input_rejected', detail: 'body is not a JSON object' },
  tooManyMessages: { reason: 'input_rejected', detail: 'messages over guardrails.input.limits.max_messages' },
  messagesShape: { reason: 'input_rejected', detail: 'messages is not an array of objects with a string role' },
  contentShape: { reason: 'input_rejected', detail: 'message content is not a string, null or an array of typed parts' },
  promptShape: { reason: 'input_rejected', detail: 'prompt is not a string or an array of strings or token ids' },
  toolsShape: { reason: 'input_rejected', detail: 'tools or functions is not an array of named definitions' },
} as const satisfies Record<string, BodyProblem>;

/**
 * The bounds that need only the text, checked before it is parsed: a partial body must never be read
 * as if complete, and an oversize one is refused before anything walks it.
 */
export function textProblem(body: CheckInput['body'], limits: InputLimits): BodyProblem | undefined {
  if (!body) return BODY_PROBLEMS.absent;
  if (body.partial) return BODY_PROBLEMS.partial;
  // Characters bound bytes from below: only a body that might be over pays for the exact count.
  if (body.text.length * 3 > limits.max_body_bytes && Buffer.byteLength(body.text, 'utf8') > limits.max_body_bytes) return BODY_PROBLEMS.tooLarge;
  return undefined;
}

/**
 * Whether the parsed JSON nests objects and arrays deeper than `max` (the body object is depth 1).
 * Walked after JSON.parse (V8's parser is not recursive: a megabyte of `[` parses without a stack
 * overflow, and the parse is shared with the policy's body reader), with an explicit stack, so no
 * depth overflows this walk either; it visits each node once and stops at the first too deep.
 * Measured: this costs a few µs on a chat body, where a scan of the text costs ~4 ns per byte.
 */
export function depthExceeds(root: unknown, max: number): boolean {
  const values: unknown[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop() as Record<string, unknown>;
    const depth = depths.pop()!;
    if (depth > max) return true;
    for (const key in value) {
      const child = value[key];
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
