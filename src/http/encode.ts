// Encodes an Answer as the HTTP response both Envoy http_service and nginx auth_request read:
// 200 allows, anything else denies with its status, headers and body going to the client.

import type { Answer } from '../decision/answer.js';

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
 * Node refuses header values with control characters or code points above U+00FF. Send the UTF-8
 * bytes (what Envoy puts on the wire in gRPC mode) and escape control characters as `\uXXXX`,
 * which keeps the JSON deny body valid.
 */
function headerSafe(value: string): string {
  // eslint-disable-next-line no-control-regex
  const escaped = value.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return /[^\u0000-\u007f]/.test(escaped) ? Buffer.from(escaped, 'utf8').toString('latin1') : escaped;
}
