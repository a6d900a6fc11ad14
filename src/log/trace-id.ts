// The trace context a check arrived with: W3C `traceparent` (+ `tracestate`) first, then Zipkin B3
// (`x-b3-*`, or the single `b3` header). The one parser for it: the decision line's trace id and,
// when tracing is on, the parent of modelgate's span (src/tracing/check-span.ts) both come from here.

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const B3_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZEROS = /^0+$/;

/** A valid, non-zero trace id and what else the carrier said about its trace. */
export interface TraceParent {
  /** As sent: 32 hex digits (W3C, B3) or 16 (64-bit B3). */
  readonly traceId: string;
  /** The caller's span, when the carrier named a valid one; a span can only be its child then. */
  readonly spanId?: string;
  /** The caller's sampling decision (W3C flag bit 0; B3 `1`, `true` or debug). */
  readonly sampled: boolean;
  /** W3C `tracestate`, passed on unparsed; only with a W3C parent. */
  readonly traceState?: string;
}

/** The trace context in one carrier, else undefined; a malformed header is ignored, never echoed. */
export function traceContextFrom(get: (name: string) => string | undefined): TraceParent | undefined {
  const w3c = TRACEPARENT.exec(get('traceparent') ?? '');
  // Version ff is forbidden by the W3C spec; a zero trace id means "no trace".
  if (w3c && w3c[1] !== 'ff' && !ZEROS.test(w3c[2]!)) {
    const traceState = get('tracestate');
    return {
      traceId: w3c[2]!,
      spanId: ZEROS.test(w3c[3]!) ? undefined : w3c[3],
      sampled: (parseInt(w3c[4]!, 16) & 1) === 1,
      traceState: traceState || undefined,
    };
  }
  return b3From(get);
}

/** The trace id for a decision line: see traceContextFrom. */
export function traceIdFrom(get: (name: string) => string | undefined): string | undefined {
  return traceContextFrom(get)?.traceId;
}

function b3From(get: (name: string) => string | undefined): TraceParent | undefined {
  const multi = get('x-b3-traceid');
  let traceId: string | undefined;
  let spanId: string | undefined;
  let sampling: string | undefined;
  if (multi !== undefined) {
    traceId = multi;
    spanId = get('x-b3-spanid');
    sampling = get('x-b3-flags') === '1' ? 'd' : get('x-b3-sampled');
  } else {
    // b3: {traceid}-{spanid}[-{sampling}[-{parentspanid}]], or a bare sampling decision.
    const parts = get('b3')?.split('-', 3);
    if (!parts) return undefined;
    [traceId, spanId, sampling] = parts;
  }
  if (!traceId || !B3_ID.test(traceId) || ZEROS.test(traceId)) return undefined;
  const validSpan = spanId !== undefined && SPAN_ID.test(spanId) && !ZEROS.test(spanId);
  return { traceId, spanId: validSpan ? spanId : undefined, sampled: sampling === '1' || sampling === 'true' || sampling === 'd' };
}
