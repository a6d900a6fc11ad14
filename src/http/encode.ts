// Encodes an Answer as the HTTP response both Envoy http_service and nginx auth_request read:
// 200 allows, anything else denies with its status, headers and body going to the client.

import type { Answer } from '../decision/answer.js';
import { safeHeaderValue } from '../decision/header-value.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Array<readonly [string, string]>;
  readonly body: string;
}

/** Envoy http_service removes the headers listed here from the upstream request (comma-separated). */
export const ENVOY_HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';
/**
 * The deny body again, as a header: nginx auth_request drops the subrequest's body, so the nginx
 * config reads this with auth_request_set and returns it from its error_page location.
 */
export const DENY_BODY_HEADER = 'x-modelgate-deny-body';

/**
 * `identityHeaders` are all configured upstream identity header names. Those this answer does not
 * set (a tenant-less identity) are removed too, so a client-sent copy can never reach the model.
 */
export function encodeHttpAnswer(answer: Answer, identityHeaders: readonly string[]): HttpAnswer {
  if (answer.allowed) {
    const set = new Set(answer.upstreamHeaders.map(([k]) => k.toLowerCase()));
    const remove = [...new Set([...answer.headersToRemove, ...identityHeaders.map((h) => h.toLowerCase()).filter((h) => !set.has(h))])];
    const headers: Array<readonly [string, string]> = [...answer.upstreamHeaders.map(([k, v]) => [k, headerSafe(v)] as const)];
    if (remove.length > 0) headers.push([ENVOY_HEADERS_TO_REMOVE, remove.join(',')]);
    headers.push(...answer.clientHeaders.map(([k, v]) => [k, headerSafe(v)] as const));
    return { status: 200, headers, body: '' };
  }
  return {
    status: answer.httpStatus,
    headers: [...answer.clientHeaders.map(([k, v]) => [k, headerSafe(v)] as const), [DENY_BODY_HEADER, headerSafe(answer.body)]],
    body: answer.body,
  };
}

/**
 * The one header rule (decision/header-value.ts), then Node's transport constraint: Node refuses
 * code points above U+00FF in a header value, so the UTF-8 bytes go out as latin1 characters,
 * which are the bytes Envoy puts on the wire in gRPC mode.
 */
function headerSafe(value: string): string {
  const safe = safeHeaderValue(value);
  for (let i = 0; i < safe.length; i++) {
    if (safe.charCodeAt(i) > 0x7f) return Buffer.from(safe, 'utf8').toString('latin1');
  }
  return safe;
}
