// checkInputFromMessage is how policy tests and `explain` turn a request object into a CheckInput:
// through the bytes the gRPC client would send and the server's own decoder, never a second decoder.

import { describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { checkInputFromMessage } from '../../../src/grpc/decode-message.js';
import { decodeCheckInput } from '../../../src/grpc/decode-wire.js';
import type { PbCheckRequest } from '../../../src/grpc/envoy-types.js';
import { authorizationServiceDefinition } from '../../../src/grpc/protos.js';

describe('checkInputFromMessage', () => {
  it('is the server decoder reading the client serializer\'s bytes', () => {
    const request = envoyCheckRequest({ path: '/v1/models/m:predict', headers: { 'X-Api-Key': 'k' }, body: '{"a":1}', principal: 'spiffe://x', contextExtensions: { model: 'm' } });
    const input = checkInputFromMessage(request);
    expect(input).toStrictEqual(decodeCheckInput(authorizationServiceDefinition().Check!.requestSerialize(request)));
    expect(input).toMatchObject({ path: '/v1/models/m:predict', body: { text: '{"a":1}', partial: false }, source: { principal: 'spiffe://x' }, contextExtensions: { model: 'm' } });
  });

  it('is undefined for a request without HTTP attributes, as the server denies request_invalid', () => {
    expect(checkInputFromMessage({ attributes: {} } as PbCheckRequest)).toBeUndefined();
  });

  it('names the field when a request object has one of the wrong type', () => {
    expect(() => checkInputFromMessage({ attributes: { source: 'x' } } as unknown as PbCheckRequest)).toThrow(/AttributeContext\.source: object expected/);
  });
});
