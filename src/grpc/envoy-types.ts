// TypeScript shapes of the ext_authz v3 messages as @grpc/proto-loader decodes and encodes them
// (keepCase, enums as strings, defaults off: every field may be absent).

export interface PbStruct {
  fields?: Record<string, PbValue>;
}
/** proto-loader uses camelCase oneof members here even with keepCase. */
export interface PbValue {
  nullValue?: 'NULL_VALUE';
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: PbStruct;
  listValue?: { values?: PbValue[] };
  kind?: string;
}

export interface PbPeer {
  address?: { socket_address?: { address?: string; port_value?: number } };
  service?: string;
  labels?: Record<string, string>;
  principal?: string;
  certificate?: string;
}

export interface PbHttpRequest {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  header_map?: { headers?: Array<{ key?: string; value?: string; raw_value?: Buffer }> };
  path?: string;
  host?: string;
  scheme?: string;
  query?: string;
  fragment?: string;
  size?: string;
  protocol?: string;
  body?: string;
  raw_body?: Buffer;
}

export interface PbCheckRequest {
  attributes?: {
    source?: PbPeer;
    destination?: PbPeer;
    request?: { time?: { seconds?: string; nanos?: number }; http?: PbHttpRequest };
    context_extensions?: Record<string, string>;
    metadata_context?: { filter_metadata?: Record<string, PbStruct> };
    tls_session?: { sni?: string };
  };
}

export type PbAppendAction =
  | 'APPEND_IF_EXISTS_OR_ADD'
  | 'ADD_IF_ABSENT'
  | 'OVERWRITE_IF_EXISTS_OR_ADD'
  | 'OVERWRITE_IF_EXISTS';

export interface PbHeaderValueOption {
  header: { key: string; value: string };
  append_action?: PbAppendAction;
}

export interface PbCheckResponse {
  status: { code: number; message?: string };
  denied_response?: { status: { code: number }; headers: PbHeaderValueOption[]; body: string };
  ok_response?: {
    headers: PbHeaderValueOption[];
    headers_to_remove: string[];
    response_headers_to_add: PbHeaderValueOption[];
  };
  dynamic_metadata?: PbStruct;
}
