// The authorizer's finish(): runs after the answer is sent, so it never throws. A failing decision
// log or metrics hook is reported with its phase, and a reporter that throws too is swallowed.

import { describe, expect, it } from 'vitest';
import type { Answer } from '../../../src/decision/answer.js';
import type { FailurePhase } from '../../../src/check/authorizer-port.js';
import { createAuthorizer, type Stages } from '../../../src/pipeline/authorizer.js';

// Only the answer builder runs for a request without HTTP attributes (request_invalid).
const stages = { answer: () => ({ allowed: false, httpStatus: 400 }) as unknown as Answer } as unknown as Stages;

describe('createAuthorizer finish', () => {
  it('reports a throwing log and a throwing observe hook, each with its phase and the decision id', async () => {
    const reported: Array<[FailurePhase, string, string | undefined]> = [];
    const authorize = createAuthorizer(
      { current: stages },
      {
        log: () => {
          throw new TypeError('log');
        },
        observe: () => {
          throw new RangeError('observe');
        },
        onError: (error, phase, decisionId) => reported.push([phase, (error as Error).constructor.name, decisionId]),
      },
    );
    const outcome = await authorize(undefined);
    expect(outcome.decision.reason).toBe('request_invalid');
    expect(() => outcome.finish()).not.toThrow();
    expect(reported.map(([phase, name]) => [phase, name])).toEqual([
      ['log', 'TypeError'],
      ['observe', 'RangeError'],
    ]);
    expect(reported[0]![2]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('swallows a reporter that throws as well', async () => {
    let observed = 0;
    const authorize = createAuthorizer(
      { current: stages },
      {
        log: () => {
          throw new Error('log');
        },
        observe: () => void observed++,
        onError: () => {
          throw new Error('reporter');
        },
      },
    );
    const outcome = await authorize(undefined);
    expect(() => outcome.finish()).not.toThrow();
    expect(observed).toBe(1); // a failed log does not cost the metrics
  });
});
