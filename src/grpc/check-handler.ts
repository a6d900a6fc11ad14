// The gRPC Check handler: the request arrives already decoded to CheckInput (decode-wire.ts, as
// the service's request deserializer), the authorizer decides, the answer is sent exactly once,
// then the decision is logged. A check Envoy already reset is not evaluated at all.

import * as grpc from '@grpc/grpc-js';
import type { Authorizer } from '../pipeline/authorizer.js';
import type { CheckInput } from '../pipeline/check-input.js';
import { INVALID_REQUEST } from './decode-wire.js';
import { encodeCheckResponseBytes } from './encode-wire.js';

/** What the Check service's request deserializer hands the handler (never undefined, see server.ts). */
export type DecodedCheck = CheckInput | typeof INVALID_REQUEST;

function metadataString(metadata: grpc.Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === 'string' ? value : undefined;
}

/** Called instead of a check the proxy had already given up on; it was not evaluated. */
export type OnAbandoned = (input: CheckInput | undefined) => void;

/**
 * Answers with CheckResponse bytes: the service is registered with a pass-through response serializer.
 *
 * Envoy resets a check it gave up on (its ext_authz timeout) and has already answered the client
 * with status_on_error. When modelgate was stalled (stopped, a long pause, a saturated loop) the
 * request and its reset arrive in one read, and grpc-js marks the call cancelled only on a later
 * turn of the event loop. One setImmediate lets the check see that, so an abandoned check charges
 * no rate-limit budget and logs no decision that no client received.
 */
export function checkHandler(authorize: Authorizer, onAbandoned?: OnAbandoned): grpc.handleUnaryCall<DecodedCheck, Buffer> {
  return (call, callback) => setImmediate(answer, call, callback);

  function answer(call: grpc.ServerUnaryCall<DecodedCheck, Buffer>, callback: grpc.sendUnaryData<Buffer>): void {
    // Malformed bytes and a request without HTTP attributes both arrive as INVALID_REQUEST: request_invalid.
    const input = call.request === INVALID_REQUEST ? undefined : call.request;
    if (call.cancelled) return onAbandoned?.(input);
    authorize(input).then(
      (outcome) => {
        callback(null, encodeCheckResponseBytes(outcome.answer));
        outcome.finish((name) => metadataString(call.metadata, name));
      },
      // The authorizer turns pipeline failures into denies itself; only a broken answer builder lands
      // here, and Envoy treats a gRPC error as a failed check (failure_mode_allow: false denies).
      () => callback({ code: grpc.status.INTERNAL, details: 'internal error' }),
    );
  }
}
