// `serve --workers N > 1` refuses budgets without limits.redis and approvals without
// approvals.redis: a reservation or a grant made in one worker's memory would be unknown to the
// worker that settles or checks next. The same config serves with --workers 1.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { perProcessStateProblems } from '../../../src/app/shared-state.js';
import { loadConfig } from '../../../src/config/load.js';
import { CLI } from '../../helpers/serve-process.js';

const run = promisify(execFile);

const POLICY = `
server: { grpc: { address: '127.0.0.1:0' }, admin: { enabled: false } }
policy:
  roles: { lead: null }
  rules:
    - { id: gated, effect: require_approval, approvers: [lead] }
`;
const BUDGETS = `
budgets:
  budgets: [{ id: day, level: subject, unit: tokens, limit: 1000, period: day }]
`;
const APPROVALS = `
approvals: { listen: '127.0.0.1:0' }
`;

describe('serve --workers with state kept between calls', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-shared-state-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the primary refuses budgets and approvals kept in memory, naming what to set', async () => {
    const path = file('both.yaml', POLICY + BUDGETS + APPROVALS);
    const failed = await run(process.execPath, [...CLI, 'serve', '--config', path, '--workers', '2'], { timeout: 45_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split('\n')).toEqual([
      `${path}: budgets need limits.redis.url with --workers 2: a reservation made in one worker is settled by whichever worker Envoy's ext_proc stream reaches. Set limits.redis.url (or MODELGATE_REDIS_URL), or serve with --workers 1`,
      `${path}: approvals need approvals.redis with --workers 2: a grant made through one worker would open checks on that worker only. Set approvals.redis, or serve with --workers 1`,
    ]);
  }, 60_000);

  it('with Redis for both there is nothing to refuse; rate limits alone stay allowed in memory', () => {
    const shared = file('redis.yaml', `${POLICY}${BUDGETS}limits: { redis: { url: 'redis://127.0.0.1:1' } }\napprovals: { listen: '127.0.0.1:0', redis: { url: 'redis://127.0.0.1:1' } }\n`);
    expect(perProcessStateProblems(loadConfig(shared).config, shared, 4)).toEqual([]);
    const memory = file('memory.yaml', POLICY + BUDGETS + APPROVALS);
    expect(perProcessStateProblems(loadConfig(memory).config, memory, 4)).toHaveLength(2);
    // Rate limits alone stay allowed in memory: documented per process, each check whole in its worker.
    const limitsOnly = file('limits.yaml', `${POLICY.replace('require_approval, approvers: [lead]', 'allow, roles: [lead]')}limits: { buckets: [{ id: b, rate: 1 }] }\n`);
    expect(perProcessStateProblems(loadConfig(limitsOnly).config, limitsOnly, 4)).toEqual([]);
  });
});
