// Item 3 of issue 12 over real sockets: a throw after the pipeline (the decision log, the metrics
// hook, the failure reporter itself, an answer that cannot be built or encoded) never becomes an
// unhandled rejection or an uncaught exception. Each call gets exactly one answer (the decision, or
// gRPC INTERNAL / the HTTP on_error deny when no answer can be encoded), the failure is reported
// with its phase, and the next check is answered normally by the same server.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStages } from '../../../src/app/load-stages.js';
import type { Answer } from '../../../src/decision/answer.js';
import type { DecisionLog } from '../../../src/decision/decision-log.js';
import { checkClient, envoyCheckRequest, type CheckClient } from '../../../src/grpc/client.js';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/grpc/server.js';
import { startHttpAuthzServer, type HttpAuthzServerHandle } from '../../../src/http/authz-server.js';
import type { FailurePhase } from '../../../src/check/authorizer-port.js';
import { createAuthorizer, type Stages } from '../../../src/pipeline/authorizer.js';
import { unlimited } from '../../../src/ratelimit/limiter.js';
import { jwks, signingKey, signToken } from '../../helpers/jwt.js';

class LogBroken extends Error {}
class MetricsBroken extends Error {}
class ReporterBroken extends Error {}
class AnswerBroken extends Error {}

const YAML = `
server:
  grpc: { address: '127.0.0.1:0' }
  http: { enabled: true, address: '127.0.0.1:0' }
  on_error: { http_status: 503 }
identity:
  jwt:
    issuers: [{ name: t, issuer: 'https://issuer.test', audiences: [modelgate], jwks_file: jwks.json, algorithms: [ES256] }]
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`;

/** What the test switches on: which hook throws, and what the answer builder does. */
const faults = { log: false, observe: false, reporter: false, answer: 'ok' as 'ok' | 'throw' | 'unencodable' };
const reported: Array<{ phase: FailurePhase; error: unknown }> = [];
const logged: string[] = [];
const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);

describe('no crash paths after the decision', () => {
  let dir: string;
  let grpc: GrpcServerHandle;
  let http: HttpAuthzServerHandle;
  let client: CheckClient;
  let token: string;

  beforeAll(async () => {
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
    dir = mkdtempSync(join(tmpdir(), 'modelgate-no-crash-'));
    const key = await signingKey('ES256', 'k1');
    token = await signToken(key, { claims: { roles: ['analyst'] } });
    writeFileSync(join(dir, 'jwks.json'), jwks(key));
    writeFileSync(join(dir, 'modelgate.yaml'), YAML);
    const built = loadStages(join(dir, 'modelgate.yaml'), { env: {}, now: Date.now, limiter: unlimited });
    if (!built.ok) throw built.error;
    const { loaded } = built;
    await built.warm();
    const real = built.stages;
    const stages: Stages = {
      ...real,
      answer: (decision, ctx) => {
        if (faults.answer === 'throw') throw new AnswerBroken('answer builder bug');
        const answer = real.answer(decision, ctx);
        // Headers that are not a list: the wire encoders throw on these.
        return faults.answer === 'unencodable' ? ({ ...answer, clientHeaders: null, upstreamHeaders: null } as unknown as Answer) : answer;
      },
    };
    const log: DecisionLog = (entry) => {
      if (faults.log) throw new LogBroken('decision log destination gone');
      logged.push(entry.decisionId);
    };
    const onError = (error: unknown, phase: FailurePhase) => {
      reported.push({ phase, error });
      if (faults.reporter) throw new ReporterBroken('the logger behind onError is broken too');
    };
    const authorize = createAuthorizer(
      { current: stages },
      {
        log,
        observe: () => {
          if (faults.observe) throw new MetricsBroken('metric label bug');
        },
        onError,
      },
    );
    grpc = await startGrpcServer({ config: loaded.config.server, baseDir: dir, authorize, onError });
    http = await startHttpAuthzServer({ config: loaded.config.server, authorize, onError, identityHeaders: () => [] });
    client = checkClient(`127.0.0.1:${grpc.port}`);
  });

  afterEach(() => {
    Object.assign(faults, { log: false, observe: false, reporter: false, answer: 'ok' });
    reported.length = 0;
  });

  afterAll(async () => {
    client?.close();
    await Promise.all([grpc?.shutdown(0), http?.shutdown(0)]);
    process.off('unhandledRejection', onEscape);
    process.off('uncaughtException', onEscape);
    rmSync(dir, { recursive: true, force: true });
  });

  const grpcCheck = () => client.check(envoyCheckRequest({ headers: { authorization: `Bearer ${token}` } }));
  const httpCheck = async () => {
    const res = await fetch(`http://127.0.0.1:${http.port}/v1/models/fraud-detector:predict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: await res.text() };
  };
  /** Lets anything that escaped reach the process listeners (a rejection is reported a tick later). */
  const settle = () => new Promise((r) => setTimeout(r, 50));

  /** Every case ends the same way: nothing escaped, and both transports answer the next check normally. */
  async function expectStillServing(): Promise<void> {
    await settle();
    expect(escaped).toEqual([]);
    Object.assign(faults, { log: false, observe: false, reporter: false, answer: 'ok' });
    expect((await grpcCheck()).status.code).toBe(0);
    expect((await httpCheck()).status).toBe(200);
  }

  it('gRPC: a decision log that throws still sends the allow, reports phase log, keeps serving', async () => {
    faults.log = true;
    const res = await grpcCheck();
    expect(res.status.code).toBe(0);
    await settle();
    expect(reported.map((r) => [r.phase, (r.error as Error).constructor.name])).toEqual([['log', 'LogBroken']]);
    await expectStillServing();
  });

  it('gRPC: a metrics hook that throws, and a reporter that throws too, still leave one answer and a live process', async () => {
    Object.assign(faults, { log: true, observe: true, reporter: true });
    const res = await grpcCheck();
    expect(res.status.code).toBe(0);
    await settle();
    // The reporter threw on the first report: the observe hook still ran and was reported.
    expect(reported.map((r) => r.phase)).toEqual(['log', 'observe']);
    await expectStillServing();
  });

  it('gRPC: an answer that cannot be encoded is answered INTERNAL, once, and reported as encode', async () => {
    faults.answer = 'unencodable';
    const lines = logged.length;
    await expect(grpcCheck()).rejects.toMatchObject({ code: 13, details: 'internal error' });
    await settle();
    expect(reported.map((r) => r.phase)).toEqual(['encode']);
    // No decision line for an answer that never left (the failure is reported instead).
    expect(logged.length).toBe(lines);
    await expectStillServing();
  });

  it('gRPC: an answer builder that throws is answered INTERNAL and reported as answer', async () => {
    faults.answer = 'throw';
    await expect(grpcCheck()).rejects.toMatchObject({ code: 13 });
    await settle();
    expect(reported.map((r) => [r.phase, (r.error as Error).constructor.name])).toEqual([['answer', 'AnswerBroken']]);
    await expectStillServing();
  });

  it('gRPC: the bytes on the wire are the same answer with or without a failing log', async () => {
    const request = envoyCheckRequest({ headers: { authorization: `Bearer ${token}` }, requestId: 'same' });
    const clean = await client.checkRaw(request);
    faults.log = true;
    const broken = await client.checkRaw(request);
    // Only the decision id differs between the two answers (it is random per check).
    expect(broken.length).toBe(clean.length);
    await expectStillServing();
  });

  it('HTTP: a decision log and metrics hook that throw still send the 200, report both, keep serving', async () => {
    Object.assign(faults, { log: true, observe: true });
    expect((await httpCheck()).status).toBe(200);
    await settle();
    expect(reported.map((r) => r.phase)).toEqual(['log', 'observe']);
    await expectStillServing();
  });

  it('HTTP: an answer that cannot be encoded gets the on_error deny (503, reason internal_error)', async () => {
    faults.answer = 'unencodable';
    const lines = logged.length;
    const res = await httpCheck();
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'internal_error' });
    await settle();
    expect(reported.map((r) => r.phase)).toEqual(['encode']);
    expect(logged.length).toBe(lines);
    await expectStillServing();
  });

  it('HTTP: an answer builder that throws, with a reporter that throws, gets the 503 and the process lives', async () => {
    Object.assign(faults, { answer: 'throw', reporter: true });
    expect((await httpCheck()).status).toBe(503);
    await expectStillServing();
  });

  it('a burst of checks with every hook failing: each call answered exactly once, nothing escapes', async () => {
    Object.assign(faults, { log: true, observe: true, reporter: true });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? grpcCheck().then((r) => r.status.code) : httpCheck().then((r) => r.status))));
    expect(results.filter((r) => r === 0)).toHaveLength(25);
    expect(results.filter((r) => r === 200)).toHaveLength(25);
    await settle();
    expect(reported).toHaveLength(100); // one log and one observe failure per check, no more
    await expectStillServing();
  });
});
