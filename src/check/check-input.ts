// The request as the pipeline sees it: decoded once from Envoy's CheckRequest (or an HTTP authz call).

export interface CheckInput {
  /** Envoy's x-request-id header ('' when absent); the join key with Envoy's access log. */
  readonly requestId: string;
  /** Envoy's stream id (`attributes.request.http.id`), not the request id. */
  readonly streamId: string;
  readonly method: string;
  /** Raw `:path` as Envoy saw it, query included, not percent-decoded. */
  readonly path: string;
  readonly host: string;
  readonly scheme: string;
  /** Lower-case header names; repeated headers already joined by Envoy with ','. */
  readonly headers: Readonly<Record<string, string>>;
  /** Body bytes as Envoy sent them; `partial` when Envoy cut it at max_request_bytes. */
  readonly body?: { readonly text: string; readonly partial: boolean };
  readonly contextExtensions: Readonly<Record<string, string>>;
  readonly source: {
    readonly principal: string;
    /** URL-encoded PEM exactly as Envoy sends it (include_peer_certificate). */
    readonly certificate: string;
    readonly address: string;
  };
  /** Envoy's metadata_context.filter_metadata, converted from Struct to plain JSON. */
  readonly filterMetadata: Readonly<Record<string, Record<string, unknown>>>;
}
