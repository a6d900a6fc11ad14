// The authorizer port: what a transport (gRPC, HTTP) calls to decide one check, and how it reports
// a failure it caught itself. The pipeline implements it (pipeline/authorizer.ts); transports
// depend on this contract only, never on the pipeline.

import type { Answer } from '../decision/answer.js';
import type { Decision } from '../decision/decision.js';
import type { CheckInput } from './check-input.js';
import type { CheckTrace } from './trace.js';

export interface CheckOutcome {
  readonly answer: Answer;
  readonly decision: Decision;
  /**
   * Call after the response is on its way: writes the decision log line. `transportTrace` reads the
   * trace headers of the call itself (Envoy's gRPC client puts its span there); the request's own
   * headers are the fallback. Never throws: a failing log or metric is reported to `onError`.
   */
  readonly finish: (transportTrace?: (name: string) => string | undefined) => void;
}

/**
 * Where an internal failure was caught. `check` is the only one that changes the answer (to the
 * configured error deny); `answer` and `encode` leave the transport answering its error answer;
 * the rest happen after the answer is on its way and change nothing the proxy sees.
 */
export type FailurePhase = 'check' | 'answer' | 'encode' | 'send' | 'log' | 'observe' | 'abandoned';

/** Counts a caught failure by class and logs it. It may throw: callers swallow that, the process must live. */
export type OnInternalError = (error: unknown, phase: FailurePhase, decisionId?: string) => void;

/**
 * `input` undefined means the request had no usable HTTP attributes: answered request_invalid.
 * Rejects only when no answer could be built (a bug in the answer builder); transports then answer their error.
 */
export type Authorizer = (input: CheckInput | undefined, trace?: CheckTrace) => Promise<CheckOutcome>;

/** Hands a caught failure to the reporter; a reporter that throws too is ignored, never rethrown. */
export function reportFailure(onError: OnInternalError | undefined, error: unknown, phase: FailurePhase, decisionId?: string): void {
  try {
    onError?.(error, phase, decisionId);
  } catch {
    // The reporter itself failed (its logger or metric threw): nothing is left to tell, and the
    // check has its answer; swallowing is the only way to keep the process serving.
  }
}
