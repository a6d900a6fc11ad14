// The trace id a decision line carries, so it can be found from the trace in the tracing backend:
// W3C `traceparent` first, then Zipkin B3 (`x-b3-traceid`, or the single `b3` header).

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;
const B3_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const ZEROS = /^0+$/;

/** A valid, non-zero trace id from trace headers, else undefined; a malformed header is ignored, never echoed. */
export function traceIdFrom(get: (name: string) => string | undefined): string | undefined {
  const w3c = TRACEPARENT.exec(get('traceparent') ?? '')?.[1];
  if (w3c && !ZEROS.test(w3c)) return w3c;
  const b3 = get('x-b3-traceid') ?? get('b3')?.split('-', 1)[0];
  return b3 && B3_ID.test(b3) && !ZEROS.test(b3) ? b3 : undefined;
}
