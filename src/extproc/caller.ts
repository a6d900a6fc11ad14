// Who an exchange belongs to, read from the ext_authz dynamic metadata Envoy forwards on the ext_proc stream.

import { EXT_AUTHZ_NAMESPACE, MetadataKey } from '../decision/metadata-keys.js';
import { structToJson } from '../grpc/struct.js';
import type { PbProcessingRequest } from './messages.js';

/** Budgets' key in the same namespace (the Check answer's `reservation_id`, made by src/budget/). */
export const RESERVATION_ID_KEY = 'reservation_id';

export interface Caller {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly model: string;
  readonly requestId: string;
  /** Empty when the Check reserved nothing (no budget applies): nothing to settle. */
  readonly reservationId: string;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * The caller as modelgate's own Check described it. Only Envoy's metadata is read, never request
 * headers: a client can send any `x-modelgate-*` header, but cannot write dynamic metadata.
 * Undefined when the message carries no ext_authz namespace (Envoy sends it only when the filter
 * forwards it, and only once ext_authz ran).
 */
export function callerOf(request: PbProcessingRequest): Caller | undefined {
  const struct = request.metadata_context?.filter_metadata?.[EXT_AUTHZ_NAMESPACE];
  if (!struct) return undefined;
  const ns = structToJson(struct);
  const roles = text(ns[MetadataKey.roles]);
  return {
    subject: text(ns[MetadataKey.subject]),
    roles: roles === '' ? [] : roles.split(','),
    model: text(ns[MetadataKey.model]),
    requestId: text(ns[MetadataKey.requestId]),
    reservationId: text(ns[RESERVATION_ID_KEY]),
  };
}
