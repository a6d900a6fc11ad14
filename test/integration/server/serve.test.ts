// `modelgate serve` as a real process: starts from a config, answers, and on SIGTERM finishes the
// checks in flight before exiting 0. Also `validate`, `keys create` and `token` as a user runs them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';
import { jwks, signToken, signingKey, type SigningKey } from '../../helpers/jwt.js';
import { CLI, startServe } from '../../helpers/serve-process.js';

const run = promisify(execFile);


describe('modelgate serve', () => {
  let dir: string;
  let key: SigningKey;
  let slowJwks: Server;
  let rotated = false;
  let jwksRequested: () => void = () => {};
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-serve-'));
    const old = await signingKey('ES256', 'k0');
    key = await signingKey('ES256', 'k1');
    // Before the rotation the JWKS answers at once (the startup fetch); after it, a token with the new
    // kid makes the server refetch, and that fetch is slow enough to be in flight when SIGTERM arrives.
    slowJwks = createServer((_req, res) => {
      if (!rotated) return void res.writeHead(200).end(jwks(old));
      jwksRequested();
      setTimeout(() => res.writeHead(200).end(jwks(old, key)), 50);
    });
    await new Promise<void>((ok) => slowJwks.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(slowJwks.address() as AddressInfo).port}/jwks.json`;
    writeFileSync(
      join(dir, 'modelgate.yaml'),
      `server: { admin: { enabled: false } }
identity:
  jwt:
    issuers: [{ name: t, issuer: 'https://t', audiences: [modelgate], jwks_uri: '${url}', algorithms: [ES256], jwks_cooldown_seconds: 0 }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`,
    );
  });
  afterAll(() => {
    slowJwks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes in-flight checks on SIGTERM, then exits 0', async () => {
    const { proc, port, lines } = await startServe(['--workers', '1', '--config', join(dir, 'modelgate.yaml'), '--address', '127.0.0.1:0']);
    const client = checkClient(`127.0.0.1:${port}`);
    try {
      const token = await signToken(key, { issuer: 'https://t', claims: { roles: ['analyst'] } });
      // The check is in flight once the server asks the (slow) JWKS endpoint for the new kid.
      const reachedServer = new Promise<void>((ok) => (jwksRequested = ok));
      rotated = true;
      const inflight = client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }));
      await reachedServer;
      const exited = new Promise<number | null>((ok) => proc.on('exit', ok));
      proc.kill('SIGTERM');
      const res = await inflight;
      expect(res.status.code).toBe(0);
      expect(await exited).toBe(0);
      expect(lines.some((l) => l.decision === 'allow')).toBe(true);
      expect(lines.some((l) => String(l.msg).startsWith('shutting down'))).toBe(true);
    } finally {
      client.close();
      proc.kill('SIGKILL');
    }
  });

  it('refuses to start on a broken config, naming file, line and key', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'policy:\n  roles: {}\n  rulez: []\n');
    await expect(run(process.execPath, [...CLI, 'serve', '--config', join(dir, 'broken.yaml')])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`${join(dir, 'broken.yaml')}:3: policy.rulez: unknown field 'rulez'`),
    });
  });

  it('validate: exit 0 with the effective settings, exit 1 with every problem', async () => {
    // Self-contained: the example config needs the dev keys that `npm start` generates first.
    writeFileSync(join(dir, 'valid.yaml'), 'policy:\n  roles: { analyst: null }\n  rules: [{ id: a, effect: allow, roles: [analyst] }]\n');
    const ok = await run(process.execPath, [...CLI, 'validate', join(dir, 'valid.yaml')]);
    expect(ok.stdout).toMatch(/valid\.yaml: OK \(1 rules/);
    await expect(run(process.execPath, [...CLI, 'validate', 'test/fixtures/config/unknown-role.yaml'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("policy.rules[0].roles[0]: unknown role 'analyts'"),
    });
  });

  it('keys create prints the key once on stdout and only its hash entry on stderr', async () => {
    const secret = 'a-test-secret-of-enough-length-0123456789';
    writeFileSync(join(dir, 'keys.yaml'), `identity:\n  api_keys: { secret_env: T_SECRET }\npolicy:\n  roles: { analyst: null }\n`);
    const { stdout, stderr } = await run(process.execPath, [...CLI, 'keys', 'create', '--id', 'ci-bot', '--role', 'analyst', '--config', join(dir, 'keys.yaml')], {
      env: { ...process.env, T_SECRET: secret },
    });
    const key = stdout.trim();
    expect(key).toMatch(/^mgk_ci-bot_[A-Za-z0-9_-]{43}$/);
    expect(stderr).toMatch(/hash: [0-9a-f]{64}/);
    expect(stderr).not.toContain(key);
  });
});
