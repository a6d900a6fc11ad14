// The JSON body of every deny, from the reason table: a decided deny (answer.ts) and a transport's
// own failure answer (http/authz-server.ts) send the same shape, so a client parses one format.

import { REASONS, type ReasonCode } from './reasons.js';

/** `request_id` ties the body a user quotes to the decision log line (or the failure's log line). */
export function denyBody(reason: ReasonCode, requestId: string): string {
  return JSON.stringify({ error: REASONS[reason].error, reason, request_id: requestId });
}
