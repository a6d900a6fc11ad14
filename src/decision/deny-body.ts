// The JSON body of every deny, from the reason table: a decided deny (answer.ts) and a transport's
// own failure answer (http/authz-server.ts) send the same shape, so a client parses one format.

import { REASONS, type ReasonCode } from './reasons.js';

/**
 * `request_id` ties the body a user quotes to the decision log line (or the failure's log line).
 * `extra` adds what the caller needs to act on the deny (a budget's remaining amount and reset, an
 * approval id); it never overrides the three fixed fields.
 */
export function denyBody(reason: ReasonCode, requestId: string, extra?: Readonly<Record<string, string | number>>): string {
  if (extra === undefined) return JSON.stringify({ error: REASONS[reason].error, reason, request_id: requestId });
  return JSON.stringify({ ...extra, error: REASONS[reason].error, reason, request_id: requestId });
}
