// Checks the hand-written CheckResponse encoder (src/grpc/encode-wire.ts) on answers built by the real
// answer builder: allow and every deny shape, tenant or not, limit headers and numeric metadata, odd
// characters. proto-loader must read our bytes back as exactly the answer, and write the same bytes
// again from what it read (same fields, same order). Run by the bench before it measures anything;
// also runnable alone: node --import tsx bench/encoder-check.ts. test/unit/grpc/encode-wire.test.ts
// also compares these answers' bytes with the reference encoder's (test/helpers/reference-codec/).

import { isDeepStrictEqual } from 'node:util';
import { answerBuilder, type Answer, type HeaderList } from '../src/decision/answer.js';
import type { Decision } from '../src/decision/decision.js';
import { configSchema } from '../src/config/schema.js';
import { encodeCheckResponseBytes } from '../src/grpc/encode-wire.js';
import type { PbCheckResponse, PbHeaderValueOption } from '../src/grpc/envoy-types.js';
import { authorizationServiceDefinition, httpStatusNumber } from '../src/grpc/protos.js';
import { structToJson } from '../src/grpc/struct.js';

/** Every answer shape the answer builder produces. */
export function answerShapes(): Answer[] {
  const config = configSchema.parse({ policy: { roles: {} } }).answer;
  const build = answerBuilder(config, ['authorization', 'x-api-key'], 503);
  const identity = { subject: 'api_key:svc:bot ünïcode ✓ 🚀', method: 'api_key' as const, roles: ['analyst', 'viewer'], attributes: { org: 'acme' }, issuer: 'bot' };
  const limit = {
    responseHeaders: [['ratelimit-policy', '"per-subject";q=100;w=60'], ['ratelimit', '"per-subject";r=0;t=17']] as const,
    metadata: { ratelimit_remaining: 0, ratelimit_limit: 100, ratelimit_reset: 16.5, ratelimit_id: 'per-subject' },
    shadowDenied: [],
  };
  const ctx = { decisionId: '0f8fad5b-d9cb-469f-a165-70867728950e', requestId: 'req-1' };
  const decisions: Decision[] = [
    { allowed: true, reason: 'allowed', identity, model: 'fraud-detector', action: 'predict', ruleId: 'r1', shadowRules: ['s1', 's2'], limit: { ...limit, metadata: { ratelimit_remaining: 99, big: 2 ** 40, neg: -3 } } },
    { allowed: true, reason: 'allowed', identity: { ...identity, attributes: {} }, model: 'm', action: 'a', ruleId: 'r1', shadowRules: [] },
    { allowed: false, reason: 'no_credential', shadowRules: [] },
    { allowed: false, reason: 'token_signature_invalid', shadowRules: [], detail: 'x' },
    { allowed: false, reason: 'no_matching_rule', identity, model: 'm', action: 'a', shadowRules: [] },
    { allowed: false, reason: 'rate_limited', identity, model: 'm', action: 'a', ruleId: 'r', shadowRules: [], limit: { ...limit, retryAfterSeconds: 17, limitId: 'per-subject' } },
    { allowed: false, reason: 'internal_error', shadowRules: [] },
  ];
  return [...decisions.map((d) => build(d, ctx)), ...decisions.map((d) => build(d, { decisionId: 'd', requestId: '' }))];
}

export function checkEncoder(): void {
  const def = authorizationServiceDefinition().Check!;
  for (const answer of answerShapes()) {
    const ours = encodeCheckResponseBytes(answer);
    const read = def.responseDeserialize(ours) as PbCheckResponse;
    const problem = disagreement(answer, read);
    if (problem) {
      throw new Error(`CheckResponse encoder: ${problem} differs:\n${JSON.stringify(answer)}\n${JSON.stringify(read)}`);
    }
    // Same fields in the same order as protobufjs writes them: nothing for a stricter reader to see differently.
    const again = def.responseSerialize(read);
    if (!again.equals(ours)) {
      throw new Error(`CheckResponse encoder writes other bytes than proto-loader:\n${again.toString('hex')}\n${ours.toString('hex')}`);
    }
  }
}

/** What differs between the answer and proto-loader's reading of its bytes (defaults off: absent means empty). */
function disagreement(answer: Answer, read: PbCheckResponse): string | undefined {
  if ((read.status?.code ?? 0) !== answer.grpcCode) return 'status.code';
  if (!isDeepStrictEqual(structToJson(read.dynamic_metadata), { ...answer.metadata })) return 'dynamic_metadata';
  if (answer.allowed) {
    const ok = read.ok_response;
    if (!ok || read.denied_response) return 'ok_response';
    if (!sameHeaders(ok.headers, answer.upstreamHeaders)) return 'ok_response.headers';
    if (!isDeepStrictEqual(ok.headers_to_remove ?? [], [...answer.headersToRemove])) return 'ok_response.headers_to_remove';
    if (!sameHeaders(ok.response_headers_to_add, answer.clientHeaders)) return 'ok_response.response_headers_to_add';
    return undefined;
  }
  const denied = read.denied_response;
  if (!denied || read.ok_response) return 'denied_response';
  if (httpStatusNumber(String(denied.status?.code)) !== answer.httpStatus) return 'denied_response.status';
  if (!sameHeaders(denied.headers, answer.clientHeaders)) return 'denied_response.headers';
  if ((denied.body ?? '') !== answer.body) return 'denied_response.body';
  return undefined;
}

/** In order, each sent with OVERWRITE_IF_EXISTS_OR_ADD (an appended copy would let a client's survive). */
function sameHeaders(read: PbHeaderValueOption[] | undefined, expected: HeaderList): boolean {
  const list = read ?? [];
  if (list.length !== expected.length) return false;
  return list.every(({ header, append_action }, i) => {
    const [key, value] = expected[i]!;
    return header.key === key && header.value === value && append_action === 'OVERWRITE_IF_EXISTS_OR_ADD';
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  checkEncoder();
  console.log('proto-loader reads encode-wire.ts\'s bytes as every answer shape says');
}
