// The readable reference decoder, for tests only: proto-loader's CheckRequest object to the pipeline's
// CheckInput. The server decodes with src/grpc/decode-wire.ts; test/unit/grpc/decode-wire.test.ts
// checks that the two agree on every well-formed request. Nothing in src/ or bench/ imports this.

import type { CheckInput } from '../../../src/check/check-input.js';
import type { PbCheckRequest, PbHttpRequest } from '../../../src/grpc/envoy-types.js';
import { setOwn, structToJson } from '../../../src/grpc/struct.js';

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** undefined when the request carries no HTTP attributes: nothing to authorize, so the caller denies. */
export function checkInputFromRequest(request: PbCheckRequest | undefined): CheckInput | undefined {
  const attributes = request?.attributes;
  const http = attributes?.request?.http;
  if (!attributes || !http) return undefined;
  const headers = headersOf(http);
  const source = attributes.source;
  const socket = source?.address?.socket_address;
  return {
    requestId: headers['x-request-id'] ?? '',
    streamId: http.id ?? '',
    method: http.method || headers[':method'] || '',
    path: http.path || headers[':path'] || '',
    host: http.host || headers[':authority'] || '',
    scheme: http.scheme || headers[':scheme'] || '',
    headers,
    body: bodyOf(http, headers),
    contextExtensions: attributes.context_extensions ?? EMPTY,
    source: {
      principal: source?.principal ?? '',
      certificate: source?.certificate ?? '',
      address: socket?.address ? `${socket.address}:${socket.port_value ?? 0}` : '',
    },
    filterMetadata: filterMetadataOf(attributes.metadata_context?.filter_metadata),
  };
}

/** Envoy fills `header_map` instead of `headers` when encode_raw_headers is on; accept both. */
function headersOf(http: PbHttpRequest): Record<string, string> {
  if (http.headers && Object.keys(http.headers).length > 0) return http.headers;
  const list = http.header_map?.headers;
  if (!list) return {};
  const out: Record<string, string> = {};
  for (const h of list) {
    if (!h.key) continue;
    const key = h.key.toLowerCase();
    const value = h.raw_value && h.raw_value.length > 0 ? h.raw_value.toString('utf8') : (h.value ?? '');
    setOwn(out, key, Object.hasOwn(out, key) ? `${out[key]},${value}` : value);
  }
  return out;
}

function bodyOf(http: PbHttpRequest, headers: Record<string, string>): CheckInput['body'] {
  const text = http.raw_body && http.raw_body.length > 0 ? http.raw_body.toString('utf8') : http.body;
  if (!text) return undefined;
  return { text, partial: headers['x-envoy-auth-partial-body'] === 'true' };
}

function filterMetadataOf(
  meta: Record<string, import('../../../src/grpc/envoy-types.js').PbStruct> | undefined,
): Record<string, Record<string, unknown>> {
  if (!meta) return {};
  const out: Record<string, Record<string, unknown>> = {};
  for (const ns of Object.keys(meta)) setOwn(out, ns, structToJson(meta[ns]));
  return out;
}
