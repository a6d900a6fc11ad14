// One fixture per `budgets` config failure, each with the exact message a user sees.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadStages } from '../../../src/app/load-stages.js';
import { budgetsSchema } from '../../../src/budget/config.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';

const fixture = (name: string) => join('test', 'fixtures', 'budget', name);

function problemsOf(name: string): readonly string[] {
  const loaded = loadStages(fixture(name), { env: {}, now: Date.now, limiter: unlimited });
  return loaded.ok ? [] : loaded.error.lines;
}

describe('budgets config errors name the file, line and key path', () => {
  it.each([
    ['period-and-rolling.yaml', '6: budgets.budgets[0]: exactly one of period, rolling is required'],
    ['duplicate-id.yaml', "7: budgets.budgets[1].id: duplicate budget id 'd'"],
    ['unknown-level.yaml', '6: budgets.budgets[0].level: must be one of: subject, team, org'],
    ['fractional-money.yaml', '6: budgets.budgets[0].limit: whole numbers only: money is in integer micro-units (1e-6), prices in micro-units per million tokens'],
    ['fractional-price.yaml', '6: budgets.prices[0].input: whole numbers only: money is in integer micro-units (1e-6), prices in micro-units per million tokens'],
    ['bad-rolling.yaml', '6: budgets.budgets[0].rolling: expected a duration like 90s, 30m, 24h or 7d'],
    ['unknown-concurrency-per.yaml', '6: budgets.concurrency[0].per: must be one of: subject, model, subject_model'],
  ])('%s', (name, expected) => {
    expect(problemsOf(name)).toEqual([`${fixture(name)}:${expected}`]);
  });

  it('defaults: 15 s reservations, 4 bytes a token, team/org attributes, fail_closed budgets', () => {
    const parsed = budgetsSchema.parse({ budgets: [{ id: 'd', level: 'org', unit: 'money', limit: 5, period: 'month' }] });
    expect(parsed).toMatchObject({
      team_attribute: 'team',
      org_attribute: 'org',
      reservation_ttl_ms: 15_000,
      estimate: { bytes_per_token: 4, per_message_tokens: 4, default_max_output_tokens: 4_096 },
      budgets: [{ shadow: false, on_redis_error: 'fail_closed', slices: 60 }],
    });
  });
});
