// One reporter for every failure the authorizer and the transports catch: counted by class, logged
// with the phase it was caught in.

import type { Logger } from 'pino';
import type { FailurePhase, OnInternalError } from '../check/authorizer-port.js';
import type { ModelgateMetrics } from '../metrics/metrics.js';

export function internalErrorReporter(metrics: Pick<ModelgateMetrics, 'internalError'>, logger: Logger): OnInternalError {
  return (error, phase, decisionId) => {
    metrics.internalError(error);
    logger.error({ err: error, decision_id: decisionId, phase }, FAILURE_MESSAGES[phase]);
  };
}

const FAILURE_MESSAGES: Readonly<Record<FailurePhase, string>> = {
  check: 'check failed internally; answered with the error deny',
  answer: 'could not build the answer; answered with the transport error (gRPC INTERNAL, HTTP on_error status)',
  encode: 'could not encode the answer; answered with the transport error (gRPC INTERNAL, HTTP on_error status)',
  send: 'could not send the answer',
  log: 'the decision log failed after the answer was sent',
  observe: 'check metrics failed after the answer was sent',
  abandoned: 'reporting an abandoned check failed',
};
