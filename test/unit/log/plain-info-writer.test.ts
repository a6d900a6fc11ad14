// The decision line's one-stringify writer must write exactly what pino writes for the same fields,
// and must never be used for a logger that pino would format differently.

import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decisionLog } from '../../../src/decision/decision-log.js';
import type { Decision } from '../../../src/decision/decision.js';
import { createLogger, plainInfoWriter } from '../../../src/log/logger.js';

function captured(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (s: string) => lines.push(s) } });
  return { lines, logger };
}

const sameTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":"T"');

const FIELD_SETS: object[] = [
  { decision_id: 'd-1', method: 'POST', decision: 'allow', reason: 'allowed', status: 200, roles: ['a', 'b'], limit: { ratelimit_remaining: 9, ratelimit_reset: 0.25 }, latency_us: 41 },
  { decision_id: 'd-2', request_id: undefined, subject: 'svc:ünï ✓ 🚀', detail: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f', status: 401 },
  { decision_id: 'd-3', shadow_rules: [], limit: {}, nan: Number.NaN, inf: Number.POSITIVE_INFINITY, neg: -0.5, big: 2 ** 60, yes: true },
  { decision_id: 'd-4', nested: { a: [1, 'x', null, { b: false }] } },
  {},
];

describe('plainInfoWriter', () => {
  it("writes pino's bytes for the same fields (time aside)", () => {
    const viaPino = captured();
    const viaWriter = captured();
    const pinoChild = viaPino.logger.child({ pid: 4242 }, { redact: [], level: 'info' });
    const child = viaWriter.logger.child({ pid: 4242 }, { redact: [], level: 'info' });
    const write = plainInfoWriter(viaWriter.logger, child);
    expect(write).toBeDefined();
    for (const fields of FIELD_SETS) {
      pinoChild.info(fields, 'decision');
      write!(fields, 'decision');
    }
    expect(viaWriter.lines.map(sameTime)).toEqual(viaPino.lines.map(sameTime));
    expect(viaWriter.lines).toHaveLength(FIELD_SETS.length);
    for (const line of viaWriter.lines) expect(JSON.parse(line)).toMatchObject({ level: 'info', service: 'modelgate', pid: 4242, msg: 'decision' });
  });

  it('is not offered for a logger modelgate did not make', () => {
    const foreign = pino({ formatters: { log: (o) => ({ ...o, extra: 1 }) } }, { write: () => {} });
    expect(plainInfoWriter(foreign, foreign.child({}))).toBeUndefined();
  });
});

describe('decisionLog', () => {
  const decision: Decision = {
    allowed: false,
    reason: 'rate_limited',
    identity: { subject: 'api_key:svc:bot', method: 'api_key', roles: ['analyst'], attributes: {}, issuer: 'bot' },
    model: 'm',
    action: 'predict',
    ruleId: 'r1',
    shadowRules: ['s1'],
    limit: { allowed: false, reason: 'rate_limited', responseHeaders: [], metadata: { ratelimit_remaining: 0 }, shadowDenied: [] } as never,
    detail: 'over "budget"',
  };

  it("through modelgate's logger: one line, every field, the parent's level decides", () => {
    const { lines, logger } = captured('info');
    const log = decisionLog(logger, true);
    log({ decisionId: 'd-9', input: undefined, decision, latencyUs: 12, httpStatus: 429 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info', service: 'modelgate', pid: process.pid, msg: 'decision', decision_id: 'd-9', subject: 'api_key:svc:bot', auth_method: 'api_key',
      roles: ['analyst'], model: 'm', action: 'predict', decision: 'deny', reason: 'rate_limited', status: 429, rule_id: 'r1',
      shadow_rules: ['s1'], limit: { ratelimit_remaining: 0 }, detail: 'over "budget"', latency_us: 12,
    });
    logger.level = 'warn';
    log({ decisionId: 'd-10', input: undefined, decision, latencyUs: 12, httpStatus: 429 });
    expect(lines).toHaveLength(1);
  });

  it("through someone else's pino logger: pino formats the line, formatters included", () => {
    const lines: string[] = [];
    const foreign = pino({ formatters: { log: (o) => ({ ...o, extra: 1 }) } }, { write: (s: string) => lines.push(s) });
    decisionLog(foreign, true)({ decisionId: 'd-11', input: undefined, decision, latencyUs: 1, httpStatus: 429 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ decision_id: 'd-11', extra: 1, msg: 'decision' });
  });
});
