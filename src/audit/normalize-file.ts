// Turns one line of Envoy's JSON access-log file (the format in deploy/envoy configs) into an audit record.

import { readExtAuthz } from './ext-authz-fields.js';
import { readExtProc } from './ext-proc-fields.js';
import type { Privacy } from './privacy.js';
import type { AuditRecord, RecordSource } from './record.js';

export type NormalizeResult = { ok: true; record: AuditRecord } | { ok: false; error: string };

/** Envoy writes `null` in JSON formats and `-` in text-ish ones for a missing value. */
function present(value: unknown): value is string | number | boolean | object {
  return value !== undefined && value !== null && value !== '-' && value !== '';
}

function str(value: unknown): string {
  return present(value) ? String(value) : '';
}

function num(value: unknown): number {
  if (!present(value)) return 0;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function sans(value: unknown): string[] {
  return str(value).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Drops the port from `ip:port` / `[v6]:port`; the port changes per connection and identifies nothing. */
export function hostOnly(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']') === -1 ? undefined : address.indexOf(']'));
  const colons = address.split(':').length - 1;
  return colons === 1 ? address.slice(0, address.indexOf(':')) : address;
}

/** Envoy's own order for `source.principal`: first URI SAN, else first DNS SAN, else the subject. */
export function principalOf(uriSans: readonly string[], dnsSans: readonly string[], subject: string): string {
  return uriSans[0] ?? dnsSans[0] ?? subject;
}

function extAuthzObject(value: unknown): Record<string, unknown> | undefined {
  if (typeof value === 'string' && value.startsWith('{')) {
    try {
      return extAuthzObject(JSON.parse(value));
    } catch {
      return undefined;
    }
  }
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function flagsOf(text: string): string[] {
  return text === '-' ? [] : text.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== '-');
}

export function normalizeFileLine(line: string, source: RecordSource, privacy: Privacy): NormalizeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, error: 'not a JSON object' };
  const e = parsed as Record<string, unknown>;
  const start = Date.parse(str(e.start_time));
  if (Number.isNaN(start)) return { ok: false, error: `bad start_time '${str(e.start_time)}'` };
  const authz = readExtAuthz(extAuthzObject(e.ext_authz));
  const uriSans = sans(e.downstream_peer_uri_san);
  const dnsSans = sans(e.downstream_peer_dns_san);
  const certSubject = str(e.downstream_peer_subject);
  const { request_id: metadataRequestId, ...authzFields } = authz;
  const address = privacy.address(hostOnly(str(e.downstream_remote_address)));
  return {
    ok: true,
    record: {
      time: new Date(start).toISOString(),
      request_id: str(e.request_id) || metadataRequestId,
      source,
      method: str(e.method),
      authority: str(e.authority),
      path: privacy.path(str(e.path)),
      protocol: str(e.protocol),
      peer: {
        principal: principalOf(uriSans, dnsSans, certSubject),
        uri_sans: uriSans,
        dns_sans: dnsSans,
        certificate_subject: certSubject,
        ...(address === undefined ? {} : { address }),
      },
      ...authzFields,
      response_code: num(e.response_code),
      response_flags: flagsOf(str(e.response_flags)),
      response_code_details: str(e.response_code_details),
      duration_ms: num(e.duration_ms),
      bytes_received: num(e.bytes_received),
      bytes_sent: num(e.bytes_sent),
      upstream_host: str(e.upstream_host),
      kept: privacy.kept(e),
      llm: readExtProc(extAuthzObject(e.ext_proc)),
    },
  };
}
