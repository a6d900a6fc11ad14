// One fixture per approvals config failure, each with the exact message a user sees (file, line, key path).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStages } from '../../../src/app/load-stages.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';

const fixture = (name: string) => join('test', 'fixtures', 'approvals', name);

function problemsOf(name: string): readonly string[] {
  const loaded = loadStages(fixture(name), { env: {}, now: Date.now, limiter: unlimited });
  return loaded.ok ? [] : loaded.error.lines;
}

describe('approvals config errors', () => {
  it.each([
    ['approval-without-approvers.yaml', [`${fixture('approval-without-approvers.yaml')}:4: policy.rules[0].approvers: required when effect is require_approval (the roles that may approve)`]],
    ['approvers-on-allow.yaml', [`${fixture('approvers-on-allow.yaml')}:7: policy.rules[0].approvers: only allowed with effect: require_approval (this rule's effect is allow)`]],
    ['approval-without-section.yaml', [`${fixture('approval-without-section.yaml')}:5: policy.rules[0].effect: require_approval needs an approvals section (where approvers act and grants are kept)`]],
    ['unknown-approver-role.yaml', [`${fixture('unknown-approver-role.yaml')}:7: policy.rules[0].approvers[0]: unknown role 'leed' (not declared in policy.roles)`]],
    ['approvals-exposed-plaintext.yaml', [`${fixture('approvals-exposed-plaintext.yaml')}:4: approvals.listen: beyond loopback the approvals endpoint must serve TLS (approvals.tls): approvers send credentials to it`]],
    ['grant-longer-than-max.yaml', [`${fixture('grant-longer-than-max.yaml')}:4: approvals.default_grant: must not exceed max_grant`]],
    ['bad-grant-duration.yaml', [`${fixture('bad-grant-duration.yaml')}:4: approvals.max_grant: not a duration: 'forever' (use e.g. 500ms, 90s, 15m, 24h, 7d)`]],
  ])('%s', (name, expected) => {
    expect(problemsOf(name)).toEqual(expected);
  });
});
