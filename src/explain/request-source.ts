// Reads what `modelgate explain --request FILE` accepts: a CheckRequest as JSON (snake_case as
// proto-loader and modelgate use it, or camelCase as protobuf JSON and grpcurl print it), or a
// decision-log line, from which the identity and target are taken as logged.

import type { PbCheckRequest } from '../grpc/envoy-types.js';
import type { CaseRequest } from '../policy-test/test-file.js';

export type RequestSource =
  | { readonly kind: 'check_request'; readonly request: PbCheckRequest }
  | { readonly kind: 'decision_log'; readonly request: CaseRequest; readonly notes: readonly string[]; readonly logged: Record<string, unknown> };

const CAMEL_TO_SNAKE: Record<string, string> = {
  contextExtensions: 'context_extensions',
  metadataContext: 'metadata_context',
  filterMetadata: 'filter_metadata',
  socketAddress: 'socket_address',
  portValue: 'port_value',
  headerMap: 'header_map',
  rawValue: 'raw_value',
  rawBody: 'raw_body',
  tlsSession: 'tls_session',
};

/** Keys under these are data (header names, extension keys), never renamed. */
const OPAQUE = new Set(['headers', 'context_extensions', 'filter_metadata', 'labels']);

export function parseRequestSource(text: string, options: { decisionId?: string; contextKeys: { model: string; action: string } }): RequestSource {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (isObject(whole) && 'attributes' in whole) return { kind: 'check_request', request: snakeCase(whole) as PbCheckRequest };
  const entries = (isObject(whole) ? [whole] : lines.map(tryJson)).filter((e): e is Record<string, unknown> => isObject(e) && 'decision_id' in e);
  const entry = options.decisionId ? entries.find((e) => e.decision_id === options.decisionId) : entries[entries.length - 1];
  if (!entry) {
    throw new Error(
      options.decisionId
        ? `no decision-log line with decision_id ${options.decisionId}`
        : 'expected a CheckRequest JSON object (with "attributes") or a decision-log line (with "decision_id")',
    );
  }
  return fromDecisionLog(entry, options.contextKeys);
}

function fromDecisionLog(entry: Record<string, unknown>, keys: { model: string; action: string }): RequestSource {
  const notes: string[] = [];
  const trace = isObject(entry.trace) ? entry.trace : undefined;
  const traced = isObject(trace?.identity) ? trace.identity : undefined;
  const ext: Record<string, string> = {};
  if (typeof entry.model === 'string') ext[keys.model] = entry.model;
  if (typeof entry.action === 'string') ext[keys.action] = entry.action;
  const request: Record<string, unknown> = {
    method: typeof entry.method === 'string' && /^[A-Z]+$/.test(entry.method) ? entry.method : 'POST',
    path: '/',
    headers: {},
    context_extensions: ext,
    partial_body: false,
  };
  if (typeof entry.host === 'string') request.host = entry.host;
  if (typeof entry.subject === 'string') {
    request.identity = {
      subject: entry.subject,
      method: typeof entry.auth_method === 'string' ? entry.auth_method : 'jwt',
      roles: Array.isArray(entry.roles) ? entry.roles.map(String) : [],
      attributes: isObject(traced?.attributes) ? (traced.attributes as Record<string, string>) : {},
    };
    notes.push('identity taken from the log line as resolved then (credentials are never logged, so they are not re-verified)');
    if (!traced) notes.push('the line has no trace (logged at info): identity attributes such as org/tier are unknown; log at debug to keep them');
  } else {
    notes.push(`the line has no identity (the check was denied with ${String(entry.reason)} before one was resolved): explaining without a credential`);
  }
  if (Object.keys(ext).length < 2) notes.push('the line names no model/action (denied before the target was known): the target cannot be reproduced');
  if (entry.body_sha256) notes.push('the request had a body; bodies are never logged, so rules reading `body` see none');
  return { kind: 'decision_log', request: request as CaseRequest, notes, logged: entry };
}

function snakeCase(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => snakeCase(v));
  if (!isObject(value)) return value;
  if (OPAQUE.has(parentKey)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = CAMEL_TO_SNAKE[k] ?? k;
    out[key] = snakeCase(v, key);
  }
  return out;
}

function tryJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);
