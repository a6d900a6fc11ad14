// Reads modelgate's ext_proc dynamic-metadata namespace (usage, output hash, masking) into the record's `llm` field.

import { ExtProcKey } from '../extproc/metadata.js';
import type { RecordLlm } from './record.js';

/** The namespace envoy/edge.yaml lets ext_proc write (ext_proc.metadata_namespace's default). */
export const EXT_PROC_NAMESPACE = 'envoy.filters.http.ext_proc';

const USAGE_SOURCES = new Set(['body', 'sse', 'headers', 'none']);

function count(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Undefined when the request never went through ext_proc (no namespace), so records of other
 * routes, and every record written before ext_proc existed, keep their exact canonical bytes.
 */
export function readExtProc(namespace: Readonly<Record<string, unknown>> | undefined): RecordLlm | undefined {
  if (!namespace || typeof namespace !== 'object') return undefined;
  const ns = namespace;
  const source = text(ns[ExtProcKey.usageSource]);
  const masked: Record<string, number> = {};
  for (const key of Object.keys(ns).sort()) {
    if (!key.startsWith(ExtProcKey.maskedPrefix)) continue;
    const n = count(ns[key]);
    if (n !== undefined) masked[key.slice(ExtProcKey.maskedPrefix.length)] = n;
  }
  const failed = ns[ExtProcKey.upstreamFailed];
  return {
    usage_source: USAGE_SOURCES.has(source) ? source : 'none',
    input_tokens: count(ns[ExtProcKey.inputTokens]),
    output_tokens: count(ns[ExtProcKey.outputTokens]),
    cached_input_tokens: count(ns[ExtProcKey.cachedInputTokens]),
    cost_micro_units: count(ns.cost_micro_units),
    output_sha256: /^[0-9a-f]{64}$/.test(text(ns[ExtProcKey.outputSha256])) ? text(ns[ExtProcKey.outputSha256]) : '',
    reservation_id: text(ns[ExtProcKey.reservationId]),
    upstream_failed: failed === true || failed === 'true',
    masked,
  };
}
