// Parses the request body as JSON at most once per check, and only when a stage asks for it.

import type { CheckInput } from './check-input.js';

const UNPARSED = Symbol('unparsed');

/**
 * undefined when there is no body, when Envoy cut it (x-envoy-auth-partial-body: true: a prefix of
 * JSON must never decide an allow), or when it is not a JSON object.
 */
export function lazyJsonBody(body: CheckInput['body']): () => unknown {
  if (!body || body.partial) return () => undefined;
  let value: unknown = UNPARSED;
  return () => {
    if (value === UNPARSED) {
      try {
        const parsed: unknown = JSON.parse(body.text);
        value = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : undefined;
      } catch {
        value = undefined;
      }
    }
    return value;
  };
}
