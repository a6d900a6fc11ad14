// CheckInput for a CheckRequest held as a proto-loader object (policy tests, `explain`, a request
// file): written to bytes by the serializer the gRPC client uses, then read by the server's own
// decoder, so these tools decide exactly what the server would decide for the same request.

import type { CheckInput } from '../check/check-input.js';
import { decodeCheckInput, INVALID_REQUEST } from './decode-wire.js';
import type { PbCheckRequest } from './envoy-types.js';
import { authorizationServiceDefinition } from './protos.js';

/**
 * undefined when the request has no `attributes.request.http` (the server denies request_invalid).
 * Throws when proto-loader cannot serialize the object (a field of the wrong type in a request file).
 */
export function checkInputFromMessage(request: PbCheckRequest): CheckInput | undefined {
  const bytes = authorizationServiceDefinition().Check!.requestSerialize(request);
  const input = decodeCheckInput(bytes);
  // protobufjs wrote these bytes; the decoder refusing them would be a bug in one of the two.
  if (input === INVALID_REQUEST) throw new Error('the wire decoder refused bytes proto-loader wrote');
  return input;
}
