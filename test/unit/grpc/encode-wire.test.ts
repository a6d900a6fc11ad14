// The hand-written CheckResponse encoder must say exactly what proto-loader's encoder says, for every
// answer shape the answer builder produces; a failure here would mean Envoy reads something else.

import { describe, expect, it } from 'vitest';
import { answerShapes, checkEncoder } from '../../../bench/encoder-check.js';
import { encodeCheckResponse } from '../../helpers/reference-codec/encode.js';
import { encodeCheckResponseBytes } from '../../../src/grpc/encode-wire.js';
import { authorizationServiceDefinition } from '../../../src/grpc/protos.js';

describe('encodeCheckResponseBytes', () => {
  it('is read back by proto-loader as the answer, on allow, every deny shape, limits, unicode and numeric metadata', () => {
    expect(() => checkEncoder()).not.toThrow();
  });

  it('writes the reference encoder\'s bytes, through proto-loader, for every answer shape', () => {
    const def = authorizationServiceDefinition().Check!;
    for (const answer of answerShapes()) {
      expect(encodeCheckResponseBytes(answer).toString('hex')).toBe(def.responseSerialize(encodeCheckResponse(answer)).toString('hex'));
    }
  });

  it('encodes a deny: status, headers with append_action, body and numeric metadata', () => {
    const def = authorizationServiceDefinition().Check!;
    const bytes = encodeCheckResponseBytes({
      allowed: false, grpcCode: 16, httpStatus: 401, upstreamHeaders: [], headersToRemove: [],
      clientHeaders: [['www-authenticate', 'Bearer realm="x"']], body: '{"reason":"no_credential"}', metadata: { reason: 'no_credential', n: 1.5 },
    });
    const decoded = def.responseDeserialize(bytes) as any;
    expect(decoded.status.code).toBe(16);
    expect(decoded.denied_response.status.code).toBe('Unauthorized');
    expect(decoded.denied_response.headers[0].header).toEqual({ key: 'www-authenticate', value: 'Bearer realm="x"' });
    expect(decoded.denied_response.headers[0].append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
    expect(decoded.dynamic_metadata.fields.n.numberValue).toBe(1.5);
  });

  it('writes answers larger than its scratch buffer, and the next small one after, byte for byte as proto-loader', () => {
    const def = authorizationServiceDefinition().Check!;
    const big = {
      allowed: true as const, grpcCode: 0 as const, httpStatus: 200, body: '', headersToRemove: ['authorization'],
      upstreamHeaders: Array.from({ length: 400 }, (_, i) => [`x-h-${i}`, `välue-${i}-`.repeat(20)] as const),
      clientHeaders: [['ratelimit', '"b";r=1;t=2'] as const],
      metadata: { long: 'ü✓🚀'.repeat(5000), n: -1.25, big: 2 ** 53 },
    };
    const small = { ...big, upstreamHeaders: [['x-a', 'b'] as const], metadata: { a: 'b' } };
    for (const answer of [big, small, big]) {
      const ours = encodeCheckResponseBytes(answer);
      expect(ours.equals(def.responseSerialize(encodeCheckResponse(answer)))).toBe(true);
    }
    expect(encodeCheckResponseBytes(big).length).toBeGreaterThan(64 * 1024);
  });
});
