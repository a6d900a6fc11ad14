// Turns one HTTP authorization request (Envoy http_service or nginx auth_request) into the
// pipeline's CheckInput; the only place that knows which header carries what.

import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { CheckInput } from '../check/check-input.js';

export type HttpModeConfig = Config['server']['http'];

/** What the server read off the wire; plain data so the mapping is testable without sockets. */
export interface HttpAuthzRequest {
  readonly method: string;
  /** The request target exactly as received (raw, not percent-decoded). */
  readonly url: string;
  /** Node's rawHeaders: name, value, name, value… in arrival order. */
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
  readonly body?: { readonly text: string; readonly truncated: boolean };
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const PARTIAL_BODY = 'x-envoy-auth-partial-body';

/**
 * undefined when the request cannot describe an original request (an nginx call without the
 * method header, an Envoy call outside path_prefix): the authorizer answers request_invalid.
 *
 * Shape: when the URI header is present the call is nginx-style (method and URI from headers,
 * the call's own path ignored); otherwise it is Envoy-style (method and path are the original
 * ones, with path_prefix in front). Both are trusted only because only the proxy reaches us.
 */
export function checkInputFromHttp(req: HttpAuthzRequest, config: HttpModeConfig): CheckInput | undefined {
  const all = joinHeaders(req.rawHeaders);
  const uri = all[config.uri_header];
  let method: string;
  let path: string;
  if (uri !== undefined) {
    const original = all[config.method_header];
    if (!original) return undefined;
    method = original.toUpperCase();
    path = uri;
  } else {
    if (!req.url.startsWith(config.path_prefix)) return undefined;
    method = req.method;
    path = req.url.slice(config.path_prefix.length);
  }
  const certificate = all[config.client_cert_header] ?? '';
  // The proxy's control headers describe the request; they are not part of it.
  const headers = dictionary();
  for (const [name, value] of Object.entries(all)) {
    if (name !== config.uri_header && name !== config.method_header && name !== config.client_cert_header) headers[name] = value;
  }
  const host = headers['host'] ?? '';
  const scheme = headers['x-forwarded-proto'] ?? '';
  // Envoy's gRPC mode includes pseudo-headers; keep policies that read them working in this mode.
  Object.assign(headers, { ':method': method, ':path': path, ':authority': host, ':scheme': scheme });
  return {
    // nginx sends none unless told to ($request_id): a generated id still ties the deny body a
    // user quotes to the decision log line.
    requestId: headers['x-request-id'] || randomUUID(),
    streamId: '',
    method,
    path,
    host,
    scheme,
    headers,
    body: bodyOf(req.body, headers),
    contextExtensions: EMPTY,
    source: { principal: '', certificate, address: req.remoteAddress },
    filterMetadata: {},
  };
}

/** Lower-case names; repeated headers joined with ',' as Envoy does (Node would drop some repeats). */
function joinHeaders(raw: readonly string[]): Record<string, string> {
  const out = dictionary();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    out[name] = name in out ? `${out[name]},${value}` : value;
  }
  return out;
}

/** No prototype: a header called `constructor` or `__proto__` is just a header. */
function dictionary(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** Partial when we cut it or when Envoy already did (x-envoy-auth-partial-body: true). */
function bodyOf(body: HttpAuthzRequest['body'], headers: Record<string, string>): CheckInput['body'] {
  if (!body || (body.text === '' && !body.truncated)) return undefined;
  return { text: body.text, partial: body.truncated || headers[PARTIAL_BODY] === 'true' };
}
