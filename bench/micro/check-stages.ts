// Micro-benchmark of modelgate's own per-check work, outside gRPC: each stage of the Check
// pipeline driven directly with the bench's Envoy-shaped requests and config, as ns/op and as a
// ratio to decoding the same CheckRequest (the work the no-op ceiling does), measured in the same
// rounds so machine noise moves both sides.
//
//   node --import tsx bench/micro/check-stages.ts [rounds=7] [ms-per-case=150]
//   (or compile first, as bench/run.ts does, to keep tsx's per-closure helper out of the numbers)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decisionLog } from '../../src/decision/decision-log.js';
import { decodeCheckInput } from '../../src/grpc/decode-wire.js';
import { encodeCheckResponseBytes } from '../../src/grpc/encode-wire.js';
import { authorizationServiceDefinition } from '../../src/grpc/protos.js';
import { createAuthorizer } from '../../src/pipeline/authorizer.js';
import { lazyJsonBody } from '../../src/check/body.js';
import { evaluateRules } from '../../src/policy/evaluate-rules.js';
import { normalizePath } from '../../src/policy/normalize-path.js';
import { benchStages } from './bench-stages.js';
import { median, sampleCases } from './sample-cases.js';

const rounds = Number(process.argv[2] ?? 7);
const msPerCase = Number(process.argv[3] ?? 150);

function fail(message: string): never {
  throw new Error(`micro bench: wrong result: ${message}`);
}

const dir = mkdtempSync(join(tmpdir(), 'modelgate-micro-'));
try {
  const { fx, stages, limiter, clock, logger } = await benchStages(dir);
  const log = decisionLog(logger, true, { trace: true });
  const authorizer = createAuthorizer({ current: stages }, { log });

  const def = authorizationServiceDefinition().Check!;
  const payload = fx.payloads.api_key;
  const bytes = def.requestSerialize(payload.request);
  const input = decodeCheckInput(bytes);
  if (typeof input !== 'object') fail('decode');
  const body = lazyJsonBody(input.body);
  const resolved = await stages.identity.resolve(input, clock.ms);
  if (!resolved.ok) fail('identity');
  const identity = resolved.identity;
  const targeted = stages.target(input, body);
  if (!targeted.ok) fail('target');
  const target = targeted.target;
  const outcome = await authorizer(input);
  if (!outcome.decision.allowed || outcome.answer.httpStatus !== 200) fail('decision');

  let sink = 0;
  const cases: Record<string, () => void | Promise<void>> = {
    // The baseline: what the ceiling does for every request besides the gRPC transport.
    'baseline: decode CheckRequest': () => {
      const r = def.requestDeserialize(bytes);
      if (r.attributes?.request?.http?.path !== '/v1/models/fraud-detector:predict') fail('decode');
    },
    // What modelgate does instead (src/grpc/decode-wire.ts): bytes straight to CheckInput.
    'decode CheckRequest to CheckInput (wire)': () => {
      const r = decodeCheckInput(bytes);
      if (typeof r !== 'object' || r.path !== '/v1/models/fraud-detector:predict') fail('decode-wire');
    },
    'normalizePath': () => {
      const n = normalizePath(input.path);
      if (!n.ok) fail('normalize');
      sink += n.path.length;
    },
    'target': () => {
      const t = stages.target(input, body);
      if (!t.ok || t.target.model !== 'fraud-detector') fail('target');
    },
    'authorize (6 rules, 1 CEL)': () => {
      const v = evaluateRules(stages.policy, { identity, target, input, body });
      if (!v.allowed || v.ruleId !== 'analysts-predict') fail('authorize');
    },
    'limiter take (2 buckets)': async () => {
      clock.ms++;
      const l = await limiter.take({ identity, model: target.model, action: target.action, requestId: input.requestId, body, now: clock.ms });
      if (!l.allowed || l.responseHeaders.length !== 2) fail('limiter');
    },
    'encode CheckResponse (allow)': () => {
      const b = encodeCheckResponseBytes(outcome.answer);
      if (b[0] !== 0x0a) fail('encode');
      sink += b.length;
    },
    'decision log line': () => {
      log({ decisionId: 'd', input, decision: outcome.decision, latencyUs: 50, httpStatus: 200 });
    },
    'full check (api key): authorizer + finish': async () => {
      clock.ms++;
      const o = await authorizer(input);
      if (!o.decision.allowed || o.decision.reason !== 'allowed') fail('check');
      o.finish();
    },
  };

  const samples = await sampleCases(cases, { rounds, msPerCase, batch: 100 });
  const base = median(samples.get('baseline: decode CheckRequest')!);
  console.log(`${rounds - 1} rounds × ${msPerCase} ms per case; median (min–max) ns/op; ratio = median / baseline median`);
  for (const [name, xs] of samples) {
    const m = median(xs);
    console.log(
      `${name.padEnd(44)} ${m.toFixed(0).padStart(7)} ns (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})  ${(m / base).toFixed(2)}×`,
    );
  }
  if (sink < 0) console.log(sink);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
