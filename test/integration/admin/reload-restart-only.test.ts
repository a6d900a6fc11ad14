// A reload applies the policy but not what start-up built once (limits, budgets, approvals, audit,
// listeners): it says so in a warning naming the sections, so a lowered limit is never believed live.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

const config = (rate: number, role: string) => `
identity: { mtls: { sources: [principal], workloads: [{ match: 'spiffe://t/a', roles: [${role}] }] } }
policy:
  roles: { analyst: null, viewer: null }
  rules: [{ id: r, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
limits: { buckets: [{ id: b, rate: ${rate}, per: minute }] }
`;

describe('reload and the sections it cannot apply', () => {
  let gate: TestGate | undefined;
  afterEach(async () => {
    await gate?.close();
    gate = undefined;
  });

  const warnings = (g: TestGate) => g.logs.filter((l) => l.level === 'warn' && String(l.msg).startsWith('config reloaded without'));
  const check = async (g: TestGate) => (await g.client.check(envoyCheckRequest({ principal: 'spiffe://t/a' }))).status.code;

  it('applies the policy, keeps the limiter, and warns naming limits', async () => {
    gate = await startTestGate(config(100, 'analyst'));
    expect(await check(gate)).toBe(0);
    writeFileSync(join(gate.dir, 'modelgate.yaml'), config(1, 'viewer'));
    expect(await gate.gate.reload()).toEqual({ ok: true });
    // The policy change is live (the workload is a viewer now: no allow rule) …
    expect(await check(gate)).toBe(7);
    // … the limits change is not, and the log says so.
    expect(warnings(gate)).toHaveLength(1);
    expect(warnings(gate)[0]).toMatchObject({ sections: ['limits'], msg: 'config reloaded without limits: changes there take effect on restart' });
  });

  it('says nothing when only reloadable sections changed', async () => {
    gate = await startTestGate(config(100, 'analyst'));
    writeFileSync(join(gate.dir, 'modelgate.yaml'), config(100, 'viewer'));
    expect(await gate.gate.reload()).toEqual({ ok: true });
    expect(await check(gate)).toBe(7);
    expect(warnings(gate)).toEqual([]);
  });
});
