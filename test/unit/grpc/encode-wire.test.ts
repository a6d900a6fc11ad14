// The hand-written CheckResponse encoder must say exactly what proto-loader's encoder says, for every
// answer shape the answer builder produces; a failure here would mean Envoy reads something else.

import { describe, expect, it } from 'vitest';
import { checkEncoder } from '../../../bench/encoder-check.js';
import { encodeCheckResponseBytes } from '../../../src/grpc/encode-wire.js';
import { authorizationServiceDefinition } from '../../../src/grpc/protos.js';

describe('encodeCheckResponseBytes', () => {
  it('agrees with proto-loader on allow, every deny shape, limits, unicode and numeric metadata', () => {
    expect(() => checkEncoder()).not.toThrow();
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
});
