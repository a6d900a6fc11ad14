// The one boundary between transports and the pipeline: runs a check, turns any throw into the
// configured fail-closed deny, builds the answer, and logs after the transport has responded.

import { randomUUID } from 'node:crypto';
import { reportFailure, type Authorizer, type OnInternalError } from '../check/authorizer-port.js';
import type { Answer, AnswerBuilder } from '../decision/answer.js';
import { denied, type Decision } from '../decision/decision.js';
import type { DecisionLog } from '../decision/decision-log.js';
import { runCheck, type PipelineStages } from './check.js';

export interface Stages extends PipelineStages {
  readonly answer: AnswerBuilder;
}

/** Holds the current stages; a reload replaces `current` in one assignment, between checks. */
export interface StagesRef {
  current: Stages;
}

export interface AuthorizerHooks {
  readonly log: DecisionLog;
  /** Observes every finished check (metrics). */
  readonly observe?: (decision: Decision, answer: Answer, latencySeconds: number) => void;
  /** Observes internal failures by class, so a bug is counted as well as denied; logs carry the decision id. */
  readonly onError?: OnInternalError;
}

export function createAuthorizer(stages: StagesRef, hooks: AuthorizerHooks): Authorizer {
  return async (input, trace) => {
    const started = process.hrtime.bigint();
    const current = stages.current;
    const decisionId = randomUUID();
    // Recorded only when the caller asks (explain) or the decision log is at debug.
    const recorded = trace ?? (hooks.log.wantsTrace?.() ? { rules: [] } : undefined);
    let decision: Decision;
    if (!input) {
      decision = denied('request_invalid', { detail: 'request without usable HTTP attributes' });
    } else {
      try {
        decision = await runCheck(input, current, recorded);
      } catch (error) {
        // Bugs and broken backends end here: never an allow, never a crash, never internal text to the client.
        reportFailure(hooks.onError, error, 'check', decisionId);
        decision = denied('internal_error', { detail: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
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
