// Turns one HTTPAccessLogEntry from Envoy's gRPC access-log stream (as proto-loader decodes it) into an audit record.

import { EXT_AUTHZ_NAMESPACE } from '../decision/metadata-keys.js';
import { readExtAuthz } from './ext-authz-fields.js';
import { EXT_PROC_NAMESPACE, readExtProc } from './ext-proc-fields.js';
import { principalOf } from './normalize-file.js';
import type { Privacy } from './privacy.js';
import type { RecordSource } from './record.js';
import type { NormalizeResult } from './normalize-file.js';
import { structToJson } from '../grpc/struct.js';
import type { PbStruct as ProtoStruct } from '../grpc/envoy-types.js';

type Long = string | number;
interface Timestamp { seconds?: Long; nanos?: number }
interface SocketAddress { socket_address?: { address?: string; port_value?: number } }
interface San { uri?: string; dns?: string }

/** The parts of envoy.data.accesslog.v3.HTTPAccessLogEntry the audit record uses. */
export interface HttpAccessLogEntry {
  common_properties?: {
    start_time?: Timestamp;
    duration?: Timestamp;
    time_to_last_downstream_tx_byte?: Timestamp;
    downstream_remote_address?: SocketAddress;
    upstream_remote_address?: SocketAddress;
    tls_properties?: { peer_certificate_properties?: { subject_alt_name?: San[]; subject?: string } };
    response_flags?: Record<string, unknown>;
    metadata?: { filter_metadata?: Record<string, ProtoStruct> };
    stream_id?: string;
  };
  protocol_version?: string;
  request?: {
    request_method?: string;
    authority?: string;
    path?: string;
    request_id?: string;
    request_body_bytes?: Long;
    request_headers?: Record<string, string>;
  };
  response?: {
    response_code?: { value?: number };
    response_code_details?: string;
    response_body_bytes?: Long;
  };
}

// Envoy's %RESPONSE_FLAGS% short names, so records from both receivers read the same.
const FLAG_CODES: Record<string, string> = {
  failed_local_healthcheck: 'LH', no_healthy_upstream: 'UH', upstream_request_timeout: 'UT',
  local_reset: 'LR', upstream_remote_reset: 'UR', upstream_connection_failure: 'UF',
  upstream_connection_termination: 'UC', upstream_overflow: 'UO', no_route_found: 'NR',
  delay_injected: 'DI', fault_injected: 'FI', rate_limited: 'RL', rate_limit_service_error: 'RLSE',
  downstream_connection_termination: 'DC', upstream_retry_limit_exceeded: 'URX',
  stream_idle_timeout: 'SI', invalid_envoy_request_headers: 'IH', downstream_protocol_error: 'DPE',
  upstream_max_stream_duration_reached: 'UMSDR', response_from_cache_filter: 'RFCF',
  no_filter_config_found: 'NFCF', duration_timeout: 'DT', upstream_protocol_error: 'UPE',
  no_cluster_found: 'NC', overload_manager: 'OM', dns_resolution_failure: 'DF',
  downstream_remote_reset: 'DR',
};

const PROTOCOLS: Record<string, string> = { HTTP10: 'HTTP/1.0', HTTP11: 'HTTP/1.1', HTTP2: 'HTTP/2', HTTP3: 'HTTP/3' };

export function responseFlagCodes(flags: Record<string, unknown> | undefined): string[] {
  const codes: string[] = [];
  for (const [field, code] of Object.entries(FLAG_CODES)) if (flags?.[field] === true) codes.push(code);
  const unauthorized = flags?.unauthorized_details as { reason?: string } | undefined;
  if (unauthorized?.reason === 'EXTERNAL_SERVICE') codes.push('UAEX');
  return codes;
}

/** A duration in ms; 0 for one that has no finite value (it must never reach canonical JSON). */
function millisOf(t: Timestamp | undefined): number {
  if (!t) return 0;
  const ms = Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) ? Math.round(ms * 1000) / 1000 : 0;
}

// google.protobuf.Timestamp's own valid range (0001-01-01 to 9999-12-31): anything outside is not a
// time Envoy wrote, and `new Date(...).toISOString()` throws a RangeError on part of it.
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/** The start time in epoch ms, or undefined when the entry's timestamp is not a valid Timestamp. */
function startMillis(t: Timestamp | undefined): number | undefined {
  const seconds = Number(t?.seconds ?? 0);
  const nanos = t?.nanos ?? 0;
  if (!Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

function num(value: Long | undefined): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function addressText(a: SocketAddress | undefined, withPort: boolean): string {
  const s = a?.socket_address;
  if (!s?.address) return '';
  if (!withPort || !s.port_value) return s.address;
  return s.address.includes(':') ? `[${s.address}]:${s.port_value}` : `${s.address}:${s.port_value}`;
}

/**
 * One entry to one record, or an error value for an entry no record can hold (the receiver drops and
 * counts it). Anything the sender controls must end here as a value: a throw would reach the stream's
 * data listener.
 */
export function normalizeAlsEntry(entry: HttpAccessLogEntry, source: RecordSource, privacy: Privacy): NormalizeResult {
  const common = entry.common_properties ?? {};
  const start = startMillis(common.start_time);
  if (start === undefined) {
    const t = common.start_time;
    return { ok: false, error: `start_time out of range (seconds ${String(t?.seconds)}, nanos ${String(t?.nanos)})` };
  }
  const request = entry.request ?? {};
  const response = entry.response ?? {};
  const namespace = common.metadata?.filter_metadata?.[EXT_AUTHZ_NAMESPACE];
  const { request_id: metadataRequestId, ...authz } = readExtAuthz(namespace ? structToJson(namespace) : undefined);
  const llmNamespace = common.metadata?.filter_metadata?.[EXT_PROC_NAMESPACE];
  const peerCert = common.tls_properties?.peer_certificate_properties;
  const uriSans = (peerCert?.subject_alt_name ?? []).flatMap((s) => (s.uri ? [s.uri] : []));
  const dnsSans = (peerCert?.subject_alt_name ?? []).flatMap((s) => (s.dns ? [s.dns] : []));
  const certSubject = peerCert?.subject ?? '';
  const address = privacy.address(addressText(common.downstream_remote_address, false));
  const duration = common.duration ?? common.time_to_last_downstream_tx_byte;
  const record = {
    time: new Date(start).toISOString(),
    request_id: request.request_id || metadataRequestId,
    source,
    method: request.request_method && request.request_method !== 'METHOD_UNSPECIFIED' ? request.request_method : '',
    authority: request.authority ?? '',
    path: privacy.path(request.path ?? ''),
    protocol: PROTOCOLS[entry.protocol_version ?? ''] ?? '',
    peer: {
      principal: principalOf(uriSans, dnsSans, certSubject),
      uri_sans: uriSans,
      dns_sans: dnsSans,
      certificate_subject: certSubject,
      ...(address === undefined ? {} : { address }),
    },
    ...authz,
    response_code: response.response_code?.value ?? 0,
    response_flags: responseFlagCodes(common.response_flags),
    response_code_details: response.response_code_details ?? '',
    duration_ms: millisOf(duration),
    bytes_received: num(request.request_body_bytes),
    bytes_sent: num(response.response_body_bytes),
    upstream_host: addressText(common.upstream_remote_address, true),
    ratelimit: authz.ratelimit,
    kept: privacy.kept(request.request_headers ?? {}),
    llm: readExtProc(llmNamespace ? structToJson(llmNamespace) : undefined),
  };
  return { ok: true, record };
}
