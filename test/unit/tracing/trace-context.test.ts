// traceContextFrom (src/log/trace-id.ts): the one parser behind both the decision line's trace id
// and the parent of a check span. What a parent needs beyond the id: its span id, the sampling
// decision, and tracestate; anything malformed is no parent at all.

import { describe, expect, it } from 'vitest';
import { traceContextFrom } from '../../../src/log/trace-id.js';

const from = (headers: Record<string, string>) => traceContextFrom((name) => headers[name]);
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('traceContextFrom', () => {
  it('reads a W3C parent: span id, sampled flag and tracestate', () => {
    expect(from({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'congo=t61rcWkgMzE' })).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
      traceState: 'congo=t61rcWkgMzE',
    });
    expect(from({ traceparent: `00-${TRACE}-${SPAN}-00` })).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false, traceState: undefined });
    // Other flag bits do not make it sampled; bit 0 alone decides.
    expect(from({ traceparent: `00-${TRACE}-${SPAN}-02` })?.sampled).toBe(false);
  });

  it('keeps the trace id but names no parent span for an all-zero span id', () => {
    expect(from({ traceparent: `00-${TRACE}-${'0'.repeat(16)}-01` })).toMatchObject({ traceId: TRACE, spanId: undefined });
  });

  it('refuses the forbidden version ff and falls back to B3', () => {
    expect(from({ traceparent: `ff-${TRACE}-${SPAN}-01` })).toBeUndefined();
    expect(from({ traceparent: `ff-${TRACE}-${SPAN}-01`, 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '1' })).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
    });
  });

  it('reads B3 multi-header (sampled, debug flag) and single-header forms', () => {
    expect(from({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' })).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false });
    expect(from({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-flags': '1' })?.sampled).toBe(true);
    expect(from({ b3: `${TRACE}-${SPAN}-1-${SPAN}` })).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(from({ b3: `e457b5a2e4d86bd1-${SPAN}-d` })).toEqual({ traceId: 'e457b5a2e4d86bd1', spanId: SPAN, sampled: true });
    // A bare sampling decision carries no trace.
    expect(from({ b3: '1' })).toBeUndefined();
  });

  it('gives a B3 trace id without a valid span id, but no parent span', () => {
    expect(from({ 'x-b3-traceid': TRACE })).toEqual({ traceId: TRACE, spanId: undefined, sampled: false });
    expect(from({ 'x-b3-traceid': TRACE, 'x-b3-spanid': 'nothex!!nothex!!' })?.spanId).toBeUndefined();
  });
});
