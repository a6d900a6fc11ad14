// No token, API key or cookie ever reaches a log line, even at debug with the decision trace on,
// and every decision line carries its decision id.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStages } from '../../../src/app/build-stages.js';
import { parseConfig } from '../../../src/config/load.js';
import { decisionLog } from '../../../src/decision/decision-log.js';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { checkInputFromMessage } from '../../../src/grpc/decode-message.js';
import { createApiKey } from '../../../src/identity/api-key.js';
import { createLogger } from '../../../src/log/logger.js';
import { createAuthorizer } from '../../../src/pipeline/authorizer.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';
import { jwks, signingKey, signToken, type SigningKey } from '../../helpers/jwt.js';

function capture(level: string, redactHeaders: string[] = []) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ level, redactHeaders, destination }) };
}

const COOKIE = `session=${randomBytes(12).toString('hex')}`;

describe('the logger', () => {
  it('redacts credential headers wherever a headers map appears, and configured ones too', () => {
    const { lines, logger } = capture('debug', ['x-internal-token']);
    const headers = { authorization: 'Bearer SECRET-A', cookie: 'SECRET-B', 'x-api-key': 'SECRET-C', 'x-internal-token': 'SECRET-D', accept: '*/*' };
    logger.info({ headers }, 'top');
    logger.info({ input: { headers } }, 'one deep');
    logger.debug({ check: { request: { headers } } }, 'two deep');
    logger.info({ authorization: 'Bearer SECRET-E', 'x-api-key': 'SECRET-F' }, 'as fields');
    logger.flush();
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).not.toMatch(/SECRET-/);
      expect(line).toContain('[redacted]');
    }
    expect(lines[0]).toContain('"accept":"*/*"');
  });
});

describe('decision lines at debug with the trace on', () => {
  let dir: string;
  let key: SigningKey;
  let apiKey: string;
  let apiKeyHash: string;
  const secret = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-log-'));
    key = await signingKey('ES256', 'k1');
    writeFileSync(join(dir, 'jwks.json'), jwks(key));
    ({ key: apiKey, hash: apiKeyHash } = createApiKey(Buffer.from(secret), 'bot'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('never contain the token, the API key or the cookie, and always a decision_id', async () => {
    const yaml = `
log: { level: debug }
identity:
  order: [jwt, api_key]
  jwt:
    issuers: [{ name: t, issuer: https://issuer.test, audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256] }]
  api_keys:
    keys: [{ id: bot, hash: '${apiKeyHash}', subject: 'svc:bot', roles: [analyst] }]
policy:
  roles: { analyst: null }
  rules:
    - { id: analysts, effect: allow, roles: [analyst], when: 'request.headers["cookie"] != ""' }
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`;
    const loaded = parseConfig(yaml, join(dir, 'modelgate.yaml'));
    const built = buildStages(loaded, { env: { MODELGATE_API_KEY_SECRET: secret }, now: Date.now, limiter: unlimited });
    if (!built.ok) throw new Error(built.problems.map(loaded.describe).join('\n'));
    const { lines, logger } = capture('debug');
    const authorize = createAuthorizer({ current: built.stages }, { log: decisionLog(logger, true, { trace: true }) });

    const token = await signToken(key, { subject: 'alice', claims: { roles: ['analyst'] } });
    const forged = `${token.slice(0, -6)}AAAAAA`;
    const requests: Array<Record<string, string>> = [
      { authorization: `Bearer ${token}`, cookie: COOKIE },
      { authorization: `Bearer ${forged}`, cookie: COOKIE },
      { 'x-api-key': apiKey, cookie: COOKIE },
      { 'x-api-key': `${apiKey}x`, cookie: COOKIE },
      { authorization: `Bearer not-a-jwt-${token.slice(10, 40)}` },
    ];
    const reasons: string[] = [];
    for (const headers of requests) {
      const input = checkInputFromMessage(envoyCheckRequest({ headers }));
      const outcome = await authorize(input);
      outcome.finish();
      reasons.push(outcome.decision.reason);
      // What a careless debug statement would log: the whole input.
      logger.debug({ input }, 'debugging a check');
    }
    logger.flush();
    expect(reasons).toEqual(['allowed', 'token_signature_invalid', 'allowed', 'api_key_invalid', 'token_malformed']);

    const decisions = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'decision');
    expect(decisions).toHaveLength(requests.length);
    for (const d of decisions) {
      expect(d.decision_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(d.trace).toBeDefined();
    }
    expect(decisions[0]!.trace).toMatchObject({ identity: { ok: true, method: 'jwt', subject: 'jwt:t:alice' }, rules: { analysts: 'matched' } });

    const secrets = [token, forged, token.split('.')[2]!, apiKey, apiKey.slice(4), COOKIE, COOKIE.split('=')[1]!];
    for (const line of lines) for (const s of secrets) expect(line).not.toContain(s);
  });

  it('records no trace at info level', async () => {
    const { lines, logger } = capture('info');
    const log = decisionLog(logger, true, { trace: true });
    expect(log.wantsTrace?.()).toBe(false);
    logger.level = 'debug';
    expect(log.wantsTrace?.()).toBe(true);
    expect(decisionLog(logger, true).wantsTrace).toBeUndefined();
    expect(lines).toHaveLength(0);
  });
});
