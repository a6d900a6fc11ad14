// One HTTP exchange on the ext_proc stream: answers each Envoy message in order and says when the exchange ended.

import type { ExtProcConfig } from './config.js';
import { callerOf, type Caller } from './caller.js';
import { headerMap, type PbCommonResponse, type PbProcessingRequest, type PbProcessingResponse } from './messages.js';
import { bodyKindOf, ResponseBody } from './response-body.js';
import type { Usage } from './settler.js';
import type { BodyTransformer, TransformerFactory } from './transform.js';
import { usageOfHeaders } from './usage.js';

export type EndKind = 'body' | 'headers' | 'trailers' | 'cancelled';
export type UsageSource = 'body' | 'sse' | 'headers' | 'none';

export interface ExchangeEnd {
  readonly kind: EndKind;
  readonly caller: Caller | undefined;
  /** Upstream `:status`, 0 when the stream ended before the response headers. */
  readonly status: number;
  readonly usage: Usage | undefined;
  readonly usageSource: UsageSource;
  /** Upstream 5xx, reset, client cancel: the Settler charges the input cost. */
  readonly failed: boolean;
  /** SHA-256 of the body as the model server sent it (of zero bytes without a body); '' when the response never began. */
  readonly outputSha256: string;
  /** True when the body outgrew max_body_bytes and usage was not read. */
  readonly overflowed: boolean;
  readonly masked: Readonly<Record<string, number>>;
}

export interface Step {
  readonly reply: PbProcessingResponse;
  /** Set on the message that ended the exchange; the reply is its last. */
  readonly end?: ExchangeEnd;
}

const CONTINUE: PbCommonResponse = {};
const NOBODY = { subject: '', roles: [] as readonly string[], model: '' };

/**
 * Bodies are read STREAMED, JSON included (envoy/llm.yaml, no mode_override). Measured with Envoy
 * 1.40: `mode_override: {response_body_mode: BUFFERED}` is honoured (with allow_mode_override) and
 * brings the JSON in one message, but a body above the listener's buffer limit then never reaches
 * modelgate and the response stalls until the route timeout. STREAMED has no such cliff; modelgate
 * keeps its own bounded copy for usage, and a transformer holds back what it needs.
 */
export class Exchange {
  private caller: Caller | undefined;
  private status = 0;
  private headers: Map<string, string> = new Map();
  private body: ResponseBody | undefined;
  private transformer: BodyTransformer | undefined;
  private ended = false;

  constructor(private readonly config: ExtProcConfig, private readonly transformers: TransformerFactory) {}

  /** Answers one ProcessingRequest. Synchronous, so replies leave in the order Envoy sent the messages. */
  handle(request: PbProcessingRequest): Step {
    this.caller ??= callerOf(request);
    switch (request.request) {
      case 'request_headers':
        return { reply: { request_headers: { response: CONTINUE } } };
      case 'request_body':
        return { reply: { request_body: { response: CONTINUE } } };
      case 'request_trailers':
        return { reply: { request_trailers: {} } };
      case 'response_headers':
        return this.responseHeaders(request.response_headers?.headers, request.response_headers?.end_of_stream === true);
      case 'response_body':
        return this.responseBody(request.response_body?.body ?? Buffer.alloc(0), request.response_body?.end_of_stream === true);
      case 'response_trailers':
        return this.finish({ response_trailers: {} }, 'trailers');
      default:
        // A message this version does not know: an empty answer is what Envoy needs to carry on.
        return { reply: {} };
    }
  }

  /** Envoy's request id from the ext_authz metadata, for log lines ('' before it arrived). */
  get requestId(): string {
    return this.caller?.requestId ?? '';
  }

  /** The stream closed or was reset before the exchange ended; undefined if it had ended. */
  abort(): ExchangeEnd | undefined {
    if (this.ended) return undefined;
    return this.summary('cancelled');
  }

  private responseHeaders(map: Parameters<typeof headerMap>[0], endOfStream: boolean): Step {
    this.headers = headerMap(map);
    this.status = Number(this.headers.get(':status') ?? 0) || 0;
    const contentType = (this.headers.get('content-type') ?? '').toLowerCase();
    this.body = new ResponseBody(bodyKindOf(contentType), this.config.max_body_bytes);
    const response: PbCommonResponse = {};
    if (!endOfStream) {
      // No ext_authz metadata (not forwarded, or a route without ext_authz) is a caller with no roles:
      // masking then applies everything it is configured with, never nothing.
      const c = this.caller ?? NOBODY;
      const contentEncoding = (this.headers.get('content-encoding') ?? 'identity').toLowerCase();
      this.transformer = this.transformers({ subject: c.subject, roles: c.roles, model: c.model, contentType, contentEncoding });
      // A rewritten body has another length; without content-length Envoy re-frames it (chunked, or HTTP/2 frames).
      // Nor does the upstream encoding describe it: a transformer cannot read an encoded body any more
      // than this exchange can, so it replaces it (masking withholds it, guardrails/mask/compile.ts).
      if (this.transformer) {
        const remove = ['content-length'];
        if (contentEncoding !== 'identity') remove.push('content-encoding');
        response.header_mutation = { remove_headers: remove };
      }
    }
    const reply: PbProcessingResponse = { response_headers: { response } };
    return endOfStream ? this.finish(reply, 'headers') : { reply };
  }

  private responseBody(chunk: Buffer, endOfStream: boolean): Step {
    this.body ??= new ResponseBody('other', this.config.max_body_bytes);
    this.body.push(chunk);
    const response: PbCommonResponse = {};
    if (this.transformer) response.body_mutation = { body: this.transformer.push(chunk, endOfStream) };
    const reply: PbProcessingResponse = { response_body: { response } };
    return endOfStream ? this.finish(reply, 'body') : { reply };
  }

  private finish(reply: PbProcessingResponse, kind: EndKind): Step {
    if (this.ended) return { reply };
    return { reply, end: this.summary(kind) };
  }

  private summary(kind: EndKind): ExchangeEnd {
    this.ended = true;
    const read = this.body?.finish();
    let usage = read?.usage;
    let usageSource: UsageSource = read?.source ?? 'none';
    if (!usage && !read?.overflowed && this.config.usage_headers) {
      usage = usageOfHeaders(this.headers, this.config.usage_headers);
      if (usage) usageSource = 'headers';
    }
    return {
      kind,
      caller: this.caller,
      status: this.status,
      usage,
      usageSource,
      failed: kind === 'cancelled' || this.status === 0 || this.status >= 500,
      outputSha256: read?.sha256 ?? '',
      overflowed: read?.overflowed ?? false,
      masked: this.transformer?.counts ?? {},
    };
  }
}
