// The one audit record both receivers produce; documented field by field in protos/modelgate/audit/v1/record.proto.

/** Where a record came from, so an auditor can trace it back and the ingester can resume exactly once. */
export interface RecordSource {
  /**
   * 'envoy_als' (gRPC access-log stream), 'envoy_file' (JSON access-log file), or 'modelgate_approvals'
   * (a step of a just-in-time approval, written by modelgate itself: the record's `approval`).
   */
  readonly kind: 'envoy_als' | 'envoy_file' | 'modelgate_approvals';
  /** ALS: `<node id>/<log_name>` as the sender declared it (not proof of anything); file: the followed path. */
  readonly id: string;
  /**
   * ALS only: the authenticated sender, the verified client certificate's identity (first URI SAN,
   * else first DNS SAN) on an mTLS receiver, or `loopback`. Absent in trails written before it existed.
   */
  readonly sender?: string;
  /** File only: `<dev>:<inode>` of the file the line was read from (paths move on rotation). */
  readonly file?: string;
  /** File only: byte offset just past this record's line. */
  readonly offset?: number;
}

/** The TLS peer as Envoy saw it. `address` is the downstream IP: a keyed hash by default, or absent. */
export interface RecordPeer {
  readonly principal: string;
  readonly uri_sans: readonly string[];
  readonly dns_sans: readonly string[];
  readonly certificate_subject: string;
  readonly address?: string;
}

export type RecordDecision = 'allow' | 'deny' | 'none';

/** OpenTelemetry GenAI semantic-convention fields, nested so the JSON path is `gen_ai.request.model`. */
export interface RecordGenAi {
  readonly request: { readonly model: string };
}

/**
 * What modelgate's ext_proc saw of an LLM response (envoy.filters.http.ext_proc metadata). Token
 * counts are absent when the response did not say them; cost only when the metadata carried it.
 */
export interface RecordLlm {
  /** body | sse | headers | none */
  readonly usage_source: string;
  readonly input_tokens?: number | undefined;
  readonly output_tokens?: number | undefined;
  readonly cached_input_tokens?: number | undefined;
  readonly cost_micro_units?: number | undefined;
  /** SHA-256 (hex) of the response body as the model server sent it, before masking. */
  readonly output_sha256: string;
  readonly reservation_id: string;
  readonly upstream_failed: boolean;
  /** Counts per kind a response transformer (masking) changed. */
  readonly masked: Readonly<Record<string, number>>;
}

export interface AuditRecord {
  /** Request start, RFC 3339 UTC with milliseconds. */
  readonly time: string;
  readonly request_id: string;
  readonly source: RecordSource;
  readonly method: string;
  readonly authority: string;
  /** The path without its query string unless the config keeps it (queries carry credentials). */
  readonly path: string;
  readonly protocol: string;
  readonly peer: RecordPeer;
  readonly subject: string;
  readonly auth_method: string;
  readonly roles: readonly string[];
  readonly tenant: string;
  readonly model: string;
  /** `gen_ai.request.model`: the same value as `model` under OpenTelemetry's GenAI name ('' when none). */
  readonly gen_ai: RecordGenAi;
  readonly action: string;
  /** modelgate's decision from the ext_authz metadata; 'none' when the request carried none. */
  readonly decision: RecordDecision;
  readonly decision_id: string;
  readonly reason: string;
  readonly rule_id: string;
  readonly shadow_rules: readonly string[];
  /** 0 when Envoy sent no response. */
  readonly response_code: number;
  /** Envoy short codes (`UAEX`, `RL`, `UF`, …); empty when none. */
  readonly response_flags: readonly string[];
  readonly response_code_details: string;
  readonly duration_ms: number;
  readonly ext_authz_duration_ms: number;
  readonly bytes_received: number;
  readonly bytes_sent: number;
  readonly upstream_host: string;
  /** `ratelimit_*` metadata fields added by the limiter, as strings. */
  readonly ratelimit: Readonly<Record<string, string>>;
  /**
   * The budget ledger's metadata, as strings: `reservation_id`, `budget_estimate_tokens`,
   * `budget_estimate_micro_units`, and on a refusal `budget_id`, `budget_remaining`, `budget_reset`
   * (or `concurrency_*`). Absent when no budget or lease applied.
   */
  readonly budget?: Readonly<Record<string, string>>;
  /** Headers/fields the config asked to keep: `hmac-sha256:<hex>` unless configured as plaintext. */
  readonly kept: Readonly<Record<string, string>>;
  /** Source kind 'modelgate_approvals' only (src/approvals/events.ts); the step is also in `reason`. */
  readonly approval?: RecordApproval;
  /** LLM routes only (ext_proc ran); absent elsewhere, so older records keep their bytes. */
  readonly llm?: RecordLlm | undefined;
}

/** One step of a just-in-time approval. Times are RFC 3339 UTC; the input only as its SHA-256. */
export interface RecordApproval {
  readonly event: string;
  readonly approval_id?: string;
  readonly grant_id?: string;
  /** The approver's qualified subject (approved, denied, revoked). */
  readonly approver?: string;
  readonly input_sha256?: string;
  readonly expires_at?: string;
}

/** An actor for per-caller statistics: the subject, else the peer for unauthenticated traffic. */
export function actorOf(record: AuditRecord): string {
  if (record.subject !== '') return record.subject;
  if (record.peer.principal !== '') return `peer:${record.peer.principal}`;
  if (record.peer.address) return `addr:${record.peer.address}`;
  return 'anonymous';
}

/** The peer identity used to notice a key showing up somewhere new. */
export function peerOf(record: AuditRecord): string {
  return record.peer.principal || record.peer.address || '';
}
