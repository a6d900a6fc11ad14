// The gRPC Check handler: the request arrives already decoded to CheckInput (decode-wire.ts, as
// the service's request deserializer), the authorizer decides, the answer is sent exactly once,
// then the decision is logged. A check Envoy already reset is not evaluated at all.

import * as grpc from '@grpc/grpc-js';
import { reportFailure, type Authorizer, type CheckOutcome, type OnInternalError } from '../check/authorizer-port.js';
import type { CheckInput } from '../check/check-input.js';
import { INVALID_REQUEST } from './decode-wire.js';
import { encodeCheckResponseBytes } from './encode-wire.js';

/** What the Check service's request deserializer hands the handler (never undefined, see server.ts). */
export type DecodedCheck = CheckInput | typeof INVALID_REQUEST;

type Call = grpc.ServerUnaryCall<DecodedCheck, Buffer>;
type Callback = grpc.sendUnaryData<Buffer>;

function metadataString(metadata: grpc.Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === 'string' ? value : undefined;
}

/** Called instead of a check the proxy had already given up on; it was not evaluated. */
export type OnAbandoned = (input: CheckInput | undefined) => void;

export interface CheckHandlerOptions {
  readonly onAbandoned?: OnAbandoned;
  /** Failures caught in the handler itself (encoding, sending, the hooks); counted and logged by the caller. */
  readonly onError?: OnInternalError;
}

const INTERNAL: Partial<grpc.StatusObject> = { code: grpc.status.INTERNAL, details: 'internal error' };

/**
 * Answers with CheckResponse bytes: the service is registered with a pass-through response serializer.
 *
 * Envoy resets a check it gave up on (its ext_authz timeout) and has already answered the client
 * with status_on_error. When modelgate was stalled (stopped, a long pause, a saturated loop) the
 * request and its reset arrive in one read, and grpc-js marks the call cancelled only on a later
 * turn of the event loop. One setImmediate lets the check see that, so an abandoned check charges
 * no rate-limit budget and logs no decision that no client received.
 *
 * Nothing here may throw out of a callback: a throw in `answer` would be an uncaught exception, one
 * in `respond` an unhandled rejection, and either would end the process for every check in flight.
 * Each step that can fail is wrapped, the call gets exactly one answer, and failures go to onError.
 */
export function checkHandler(authorize: Authorizer, options: CheckHandlerOptions = {}): grpc.handleUnaryCall<DecodedCheck, Buffer> {
  const { onAbandoned, onError } = options;
  return (call, callback) => setImmediate(answer, call, callback);

  function answer(call: Call, callback: Callback): void {
    // Malformed bytes and a request without HTTP attributes both arrive as INVALID_REQUEST: request_invalid.
    const input = call.request === INVALID_REQUEST ? undefined : call.request;
    if (call.cancelled) {
      try {
        onAbandoned?.(input);
      } catch (error) {
        reportFailure(onError, error, 'abandoned');
      }
      return;
    }
    let pending: Promise<CheckOutcome>;
    try {
      pending = authorize(input);
    } catch (error) {
      return fail(callback, error);
    }
    // The authorizer turns pipeline failures into denies itself; it rejects only when no answer could
    // be built, and Envoy treats a gRPC error as a failed check (failure_mode_allow: false denies).
    pending.then(
      (outcome) => respond(call, callback, outcome),
      (error: unknown) => fail(callback, error, 'answer'),
    );
  }

  function respond(call: Call, callback: Callback, outcome: CheckOutcome): void {
    let bytes: Buffer;
    try {
      bytes = encodeCheckResponseBytes(outcome.answer);
    } catch (error) {
      return fail(callback, error, 'encode');
    }
    try {
      callback(null, bytes);
    } catch (error) {
      // Whether anything reached the wire is unknown: never answer a second time.
      return reportFailure(onError, error, 'send');
    }
    try {
      outcome.finish((name) => metadataString(call.metadata, name));
    } catch (error) {
      reportFailure(onError, error, 'log');
    }
  }

  function fail(callback: Callback, error: unknown, phase: 'answer' | 'encode' = 'answer'): void {
    reportFailure(onError, error, phase);
    try {
      callback(INTERNAL);
    } catch (sendError) {
      reportFailure(onError, sendError, 'send');
    }
  }
}
