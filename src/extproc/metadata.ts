// The dynamic metadata modelgate hands Envoy at the end of an exchange, for Envoy's access log and the audit trail.

import { jsonToStruct } from '../grpc/struct.js';
import type { PbStruct } from '../grpc/envoy-types.js';
import type { ExchangeEnd } from './exchange.js';

/** Field names in the ext_proc namespace; src/audit/ext-proc-fields.ts reads the same names. */
export const ExtProcKey = {
  inputTokens: 'usage_input_tokens',
  outputTokens: 'usage_output_tokens',
  cachedInputTokens: 'usage_cached_input_tokens',
  usageSource: 'usage_source',
  outputSha256: 'output_sha256',
  reservationId: 'reservation_id',
  upstreamFailed: 'upstream_failed',
  /** The reported usage priced by the budgets' price table (integer micro-units). */
  costMicroUnits: 'cost_micro_units',
  /** `masked_<kind>`: one count per kind a transformer changed. */
  maskedPrefix: 'masked_',
} as const;

/** A transformer's kind becomes part of a metadata key: only short snake_case words. */
const MASK_KIND = /^[a-z0-9_]{1,32}$/;

/**
 * `{ <namespace>: { ... } }`: Envoy stores each top-level key as a namespace (only those listed in
 * the filter's metadata_options.receiving_namespaces). Settlement is not in it: it runs after this
 * reply leaves (a Redis call must never hold Envoy's message), so its outcome goes to modelgate's log.
 */
export function endMetadata(end: ExchangeEnd, namespace: string, costMicroUnits?: number): PbStruct {
  const fields: Record<string, string | number | boolean> = {
    [ExtProcKey.usageSource]: end.usageSource,
    [ExtProcKey.upstreamFailed]: end.failed,
  };
  if (end.usage) {
    fields[ExtProcKey.inputTokens] = end.usage.inputTokens;
    fields[ExtProcKey.outputTokens] = end.usage.outputTokens;
    fields[ExtProcKey.cachedInputTokens] = end.usage.cachedInputTokens;
  }
  if (costMicroUnits !== undefined && Number.isSafeInteger(costMicroUnits)) fields[ExtProcKey.costMicroUnits] = costMicroUnits;
  if (end.outputSha256) fields[ExtProcKey.outputSha256] = end.outputSha256;
  if (end.caller?.reservationId) fields[ExtProcKey.reservationId] = end.caller.reservationId;
  for (const [kind, n] of Object.entries(end.masked)) {
    if (MASK_KIND.test(kind) && Number.isSafeInteger(n) && n > 0) fields[`${ExtProcKey.maskedPrefix}${kind}`] = n;
  }
  return jsonToStruct({ [namespace]: fields });
}
