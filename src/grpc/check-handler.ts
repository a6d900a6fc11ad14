// The gRPC Check handler: decode once, ask the authorizer, answer exactly once, then log.

import * as grpc from '@grpc/grpc-js';
import type { Authorizer } from '../pipeline/authorizer.js';
import { checkInputFromRequest } from './decode.js';
import { encodeCheckResponseBytes } from './encode-wire.js';
import type { PbCheckRequest } from './envoy-types.js';

/** Answers with CheckResponse bytes: the service is registered with a pass-through response serializer. */
export function checkHandler(authorize: Authorizer): grpc.handleUnaryCall<PbCheckRequest, Buffer> {
  return (call, callback) => {
    let input;
    try {
      input = checkInputFromRequest(call.request);
    } catch {
      input = undefined; // answered as request_invalid
    }
    authorize(input).then(
      (outcome) => {
        callback(null, encodeCheckResponseBytes(outcome.answer));
        outcome.finish();
      },
      // The authorizer turns pipeline failures into denies itself; only a broken answer builder lands
      // here, and Envoy treats a gRPC error as a failed check (failure_mode_allow: false denies).
      () => callback({ code: grpc.status.INTERNAL, details: 'internal error' }),
    );
  };
}
