// Schema of the `ext_proc` config section: how modelgate reads model responses on Envoy's ext_proc stream.

import { z } from 'zod';

const headerName = z.string().regex(/^[a-z0-9!#$%&'*+.^_`|~-]+$/, 'expected a lower-case HTTP header name');

/**
 * No `enabled` switch: the ExternalProcessor service is always registered on the Check port and
 * costs nothing until Envoy's ext_proc filter opens a stream to it.
 */
export const extProcSchema = z.strictObject({
  /**
   * The most response bytes kept per exchange to read usage (a JSON body, or one SSE line). Beyond
   * it modelgate stops reading usage (usage_source none, settled at the input cost); the body
   * still flows and is still hashed.
   */
  max_body_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  /**
   * Fallback when the body carries no usage: response headers the model server sets with token
   * counts. Unset: no fallback. Only the model server's headers are read (never the client's).
   */
  usage_headers: z
    .strictObject({ input: headerName, output: headerName, cached_input: headerName.optional() })
    .optional(),
  /** Where Envoy stores the metadata modelgate emits: must be in the filter's receiving_namespaces. */
  metadata_namespace: z.string().min(1).default('envoy.filters.http.ext_proc'),
});

export type ExtProcConfig = z.infer<typeof extProcSchema>;

/** The section's defaults, for configs without an `ext_proc:` section. */
export const DEFAULT_EXT_PROC: ExtProcConfig = extProcSchema.parse({});
