// TypeScript shapes of the ext_proc v3 messages as @grpc/proto-loader decodes and encodes them (keepCase, oneofs).

import type { PbStruct } from '../grpc/envoy-types.js';

export interface PbHeaderMap {
  headers?: Array<{ key?: string; value?: string; raw_value?: Buffer }>;
}

export interface PbHttpHeaders {
  headers?: PbHeaderMap;
  end_of_stream?: boolean;
}

export interface PbHttpBody {
  body?: Buffer;
  end_of_stream?: boolean;
}

export type RequestKind = 'request_headers' | 'response_headers' | 'request_body' | 'response_body' | 'request_trailers' | 'response_trailers';

export interface PbProcessingRequest {
  /** proto-loader's `oneofs: true` names the member that is set. */
  request?: RequestKind;
  request_headers?: PbHttpHeaders;
  response_headers?: PbHttpHeaders;
  request_body?: PbHttpBody;
  response_body?: PbHttpBody;
  request_trailers?: { trailers?: PbHeaderMap };
  response_trailers?: { trailers?: PbHeaderMap };
  metadata_context?: { filter_metadata?: Record<string, PbStruct> };
}

export interface PbCommonResponse {
  header_mutation?: { set_headers?: Array<{ header: { key: string; raw_value: Buffer }; append_action: string }>; remove_headers?: string[] };
  body_mutation?: { body: Buffer };
}

export interface PbProcessingResponse {
  request_headers?: { response: PbCommonResponse };
  response_headers?: { response: PbCommonResponse };
  request_body?: { response: PbCommonResponse };
  response_body?: { response: PbCommonResponse };
  request_trailers?: Record<string, never>;
  response_trailers?: Record<string, never>;
  dynamic_metadata?: PbStruct;
}

/** Header names are lower case on Envoy's side; Envoy 1.40 sends values as `raw_value` bytes. */
export function headerMap(map: PbHeaderMap | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of map?.headers ?? []) {
    if (!h.key) continue;
    const value = h.raw_value !== undefined && h.raw_value.length > 0 ? h.raw_value.toString('latin1') : (h.value ?? '');
    out.set(h.key.toLowerCase(), value);
  }
  return out;
}
