// The one boundary between transports and the pipeline: runs a check, turns any throw into the
// configured fail-closed deny, builds the answer, and logs after the transport has responded.

import { randomUUID } from 'node:crypto';
import type { Answer, AnswerBuilder } from '../decision/answer.js';
import type { Decision } from '../decision/decision.js';
import type { DecisionLog } from '../decision/decision-log.js';
import type { DenyReason } from '../decision/reasons.js';
import type { CheckInput } from './check-input.js';
import { runCheck, type CheckTrace, type PipelineStages } from './check.js';

export interface Stages extends PipelineStages {
  readonly answer: AnswerBuilder;
}

/** Holds the current stages; a reload replaces `current` in one assignment, between checks. */
export interface StagesRef {
  current: Stages;
}

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

export interface AuthorizerHooks {
  readonly log: DecisionLog;
  /** Observes every finished check (metrics). */
  readonly observe?: (decision: Decision, answer: Answer, latencySeconds: number) => void;
  /** Observes internal failures by class, so a bug is counted as well as denied; logs carry the decision id. */
  readonly onError?: OnInternalError;
}

/** Rejects only when no answer could be built (a bug in the answer builder); transports then answer their error. */
export type Authorizer = (input: CheckInput | undefined, trace?: CheckTrace) => Promise<CheckOutcome>;

const EMPTY: readonly string[] = [];

export function createAuthorizer(stages: StagesRef, hooks: AuthorizerHooks): Authorizer {
  return async (input, trace) => {
    const started = process.hrtime.bigint();
    const current = stages.current;
    const decisionId = randomUUID();
    // Recorded only when the caller asks (explain) or the decision log is at debug.
    const recorded = trace ?? (hooks.log.wantsTrace?.() ? { rules: [] } : undefined);
    let decision: Decision;
    if (!input) {
      decision = deny('request_invalid', 'request without usable HTTP attributes');
    } else {
      try {
        decision = await runCheck(input, current, recorded);
      } catch (error) {
        // Bugs and broken backends end here: never an allow, never a crash, never internal text to the client.
        reportFailure(hooks.onError, error, 'check', decisionId);
        decision = deny('internal_error', error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      }
    }
    const answer = current.answer(decision, { decisionId, requestId: input?.requestId ?? '' });
    return {
      answer,
      decision,
      // The answer has been sent: a throw from here on must not reach the transport's promise chain,
      // where it would become an unhandled rejection. Each hook is guarded on its own.
      finish: (transportTrace) => {
        const ns = process.hrtime.bigint() - started;
        try {
          hooks.log({ decisionId, input, decision, latencyUs: Number(ns / 1000n), httpStatus: answer.httpStatus, trace: recorded, transportTrace });
        } catch (error) {
          reportFailure(hooks.onError, error, 'log', decisionId);
        }
        try {
          hooks.observe?.(decision, answer, Number(ns) / 1e9);
        } catch (error) {
          reportFailure(hooks.onError, error, 'observe', decisionId);
        }
      },
    };
  };
}

/** Hands a caught failure to the reporter; a reporter that throws too is ignored, never rethrown. */
export function reportFailure(onError: OnInternalError | undefined, error: unknown, phase: FailurePhase, decisionId?: string): void {
  try {
    onError?.(error, phase, decisionId);
  } catch {
    // The reporter itself failed (its logger or metric threw): nothing is left to tell, and the
    // check has its answer; swallowing is the only way to keep the process serving.
  }
}

function deny(reason: DenyReason, detail: string): Decision {
  return { allowed: false, reason, shadowRules: EMPTY, detail };
}
