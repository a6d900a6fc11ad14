// traceIdFrom: W3C traceparent first, then B3; malformed or all-zero ids are ignored.

import { describe, expect, it } from 'vitest';
import { traceIdFrom } from '../../../src/log/trace-id.js';

const from = (headers: Record<string, string>) => traceIdFrom((name) => headers[name]);
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('traceIdFrom', () => {
  it('reads the trace id of a W3C traceparent', () => {
    expect(from({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01` })).toBe(TRACE);
  });

  it('prefers traceparent over B3, and falls back to B3 (multi and single header)', () => {
    expect(from({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, 'x-b3-traceid': 'a'.repeat(32) })).toBe(TRACE);
    expect(from({ 'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7' })).toBe('80f198ee56343ba864fe8b2a57d3eff7');
    expect(from({ 'x-b3-traceid': 'e457b5a2e4d86bd1' })).toBe('e457b5a2e4d86bd1');
    expect(from({ b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' })).toBe('80f198ee56343ba864fe8b2a57d3eff7');
  });

  it('ignores malformed, upper-case, injected and all-zero ids', () => {
    expect(from({})).toBeUndefined();
    expect(from({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` })).toBeUndefined();
    expect(from({ traceparent: `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01` })).toBeUndefined();
    expect(from({ traceparent: '00-"},"decision":"allow-00f067aa0ba902b7-01' })).toBeUndefined();
    expect(from({ 'x-b3-traceid': 'not-hex-at-all!!' })).toBeUndefined();
    expect(from({ 'x-b3-traceid': '0'.repeat(16) })).toBeUndefined();
  });
});
