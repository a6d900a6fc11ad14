// Hot reload under load: a loop of real gRPC checks runs while the policy file is replaced by a
// broken one (old policy keeps serving, every problem logged, failure counted) and then by a good
// one (new decisions from the next check on). Identity files reload the same way.

import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';
import { jwks, signingKey, signToken } from '../../helpers/jwt.js';
import { eventually, scrape, value } from '../../helpers/scrape.js';

const ISSUER = 'https://issuer.test';
const policy = (rules: string) => `
server: { admin: { address: '127.0.0.1:0' } }
identity:
  jwt:
    issuers: [{ name: test, issuer: ${ISSUER}, audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256] }]
policy:
  roles: { analyst: null, viewer: null }
  rules:
${rules}
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`;
const ALLOW_ANALYSTS = policy('    - { id: analysts, effect: allow, roles: [analyst] }');
const ONLY_VIEWERS = policy('    - { id: viewers, effect: allow, roles: [viewer] }');
// Two problems: a bad enum and a misspelled key; both must be logged with file and key path.
const BROKEN = policy('    - { id: analysts, effect: permit, roles: [analyst], modles: [x] }');

/** Editors save by writing a temp file and renaming it over the old one. */
function replaceFile(path: string, content: string): void {
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
}

interface Observed {
  readonly startedAfter: 'broken' | 'swapped' | 'before';
  readonly code: number | 'error';
}

/** Checks back to back until stopped, recording each answer with the phase it started in. */
function checkLoop(gate: TestGate, token: string, phase: () => Observed['startedAfter']) {
  const observed: Observed[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const startedAfter = phase();
      try {
        const res = await gate.client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }), 2_000);
        observed.push({ startedAfter, code: res.status.code });
      } catch {
        observed.push({ startedAfter, code: 'error' });
      }
    }
  })();
  return {
    observed,
    count: () => observed.length,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('hot reload', () => {
  let gate: TestGate | undefined;
  afterEach(async () => {
    await gate?.close();
    gate = undefined;
  });

  it('keeps serving the old policy through a broken file, then switches from the next check on', async () => {
    const key = await signingKey('ES256', 'k1');
    gate = await startTestGate(ALLOW_ANALYSTS, { files: { 'jwks.json': jwks(key) } });
    const g = gate;
    const configFile = join(g.dir, 'modelgate.yaml');
    const adminPort = g.gate.adminPort!;
    const token = await signToken(key, { issuer: ISSUER, subject: 'alice', claims: { roles: ['analyst'] } });
    const reloads = async (result: string) => value(await scrape(adminPort), 'modelgate_policy_reloads_total', { result });

    let phase: Observed['startedAfter'] = 'before';
    const loop = checkLoop(g, token, () => phase);
    await eventually(() => loop.count() >= 20, 5_000, 'checks before the reload');

    phase = 'broken';
    replaceFile(configFile, BROKEN);
    await eventually(async () => (await reloads('failure')) >= 1, 5_000, 'the failed reload');
    const afterFailure = loop.count();
    await eventually(() => loop.count() >= afterFailure + 20, 5_000, 'checks after the failed reload');

    replaceFile(configFile, ONLY_VIEWERS);
    await eventually(async () => (await reloads('success')) >= 1, 5_000, 'the good reload');
    phase = 'swapped';
    const afterSwap = loop.count();
    await eventually(() => loop.count() >= afterSwap + 20, 5_000, 'checks after the good reload');
    await loop.stop();

    const { observed } = loop;
    expect(observed.filter((o) => o.code === 'error')).toEqual([]);
    // Old policy through the broken file: analysts allowed (0) on every check.
    expect(observed.filter((o) => o.startedAfter !== 'swapped' && o.code !== 0 && o.code !== 7)).toEqual([]);
    const beforeGood = observed.slice(0, afterFailure + 20);
    expect(beforeGood.every((o) => o.code === 0)).toBe(true);
    // New policy: every check started after the swap was observed is denied (7 = PERMISSION_DENIED).
    const swapped = observed.filter((o) => o.startedAfter === 'swapped');
    expect(swapped.length).toBeGreaterThanOrEqual(20);
    expect(swapped.every((o) => o.code === 7)).toBe(true);

    // Every problem was logged with the file and its key path, and the failure counted.
    const problems = g.logs.filter((l) => l.msg === 'config problem').map((l) => String(l.problem));
    expect(problems.some((p) => p.includes('modelgate.yaml') && p.includes('policy.rules[0].effect'))).toBe(true);
    expect(problems.some((p) => p.includes('modelgate.yaml') && p.includes("policy.rules[0].modles: unknown field 'modles'"))).toBe(true);
    expect(g.logs.some((l) => l.msg === 'config reload failed; previous config keeps serving')).toBe(true);
    expect(await reloads('failure')).toBe(1);
  });

  it('reloads identity files too: a rotated JWKS is picked up, a broken one keeps the old keys', async () => {
    const oldKey = await signingKey('ES256', 'old');
    const newKey = await signingKey('ES256', 'new');
    gate = await startTestGate(ALLOW_ANALYSTS, { files: { 'jwks.json': jwks(oldKey) } });
    const g = gate;
    const jwksFile = join(g.dir, 'jwks.json');
    const adminPort = g.gate.adminPort!;
    const check = async (k: typeof oldKey) => {
      const token = await signToken(k, { issuer: ISSUER, subject: 'alice', claims: { roles: ['analyst'] } });
      return (await g.client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }))).status.code;
    };
    const reloads = async (result: string) => value(await scrape(adminPort), 'modelgate_policy_reloads_total', { result });

    replaceFile(jwksFile, '{ "keys": ');
    await eventually(async () => (await reloads('failure')) >= 1, 5_000, 'the failed JWKS reload');
    expect(await check(oldKey)).toBe(0);
    const problem = g.logs.find((l) => l.msg === 'config problem');
    expect(String(problem?.problem)).toMatch(/identity\.jwt\.issuers\[0\]\.jwks_file: cannot read JWKS file .*jwks\.json/);

    replaceFile(jwksFile, jwks(oldKey, newKey));
    await eventually(async () => (await reloads('success')) >= 1, 5_000, 'the JWKS reload');
    expect(await check(newKey)).toBe(0);
    expect(await check(oldKey)).toBe(0);
  });

  it('serializes reloads (SIGHUP) and reports problems to the caller', async () => {
    const key = await signingKey('ES256', 'k1');
    gate = await startTestGate(ALLOW_ANALYSTS, { files: { 'jwks.json': jwks(key) } });
    const configFile = join(gate.dir, 'modelgate.yaml');
    writeFileSync(configFile, BROKEN);
    const [a, b] = await Promise.all([gate.gate.reload(), gate.gate.reload()]);
    expect(a.ok).toBe(false);
    expect(b.ok).toBe(false);
    if (!a.ok) expect(a.problems.join('\n')).toMatch(/policy\.rules\[0\]\.effect/);
    writeFileSync(configFile, ONLY_VIEWERS);
    expect(await gate.gate.reload()).toEqual({ ok: true });
    expect(gate.gate.loaded().config.policy.rules[0]?.id).toBe('viewers');
  });
});
