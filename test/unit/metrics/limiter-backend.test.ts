// modelgate_ratelimit_backend_errors_total names how a backend failure was handled: a memory_full
// that let a new bucket pass uncharged (fail_open) is not counted as a fail_closed deny.

import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/metrics.js';
import type { Decision } from '../../../src/decision/decision.js';
import type { Answer } from '../../../src/decision/answer.js';

const answer = {} as Answer;
const limit = (metadata: Record<string, string | number>) => ({ responseHeaders: [], metadata, shadowDenied: [] });

describe('limiter backend errors', () => {
  it('labels handling by the decision: fail_open on an allow, fail_closed on a deny', async () => {
    const metrics = createMetrics();
    const allowed: Decision = { allowed: true, reason: 'allowed', shadowRules: [], limit: limit({ ratelimit_error: 'memory_full' }) };
    const closed: Decision = { allowed: false, reason: 'limiter_unavailable', shadowRules: [], limit: limit({ ratelimit_error: 'memory_full' }) };
    metrics.observeCheck(allowed, answer, 0.001);
    metrics.observeCheck(allowed, answer, 0.001);
    metrics.observeCheck(closed, answer, 0.001);
    const text = await metrics.registry.metrics();
    expect(text).toContain('modelgate_ratelimit_backend_errors_total{class="memory_full",handling="fail_open"} 2');
    expect(text).toContain('modelgate_ratelimit_backend_errors_total{class="memory_full",handling="fail_closed"} 1');
  });
});
