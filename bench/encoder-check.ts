// Proves the hand-written CheckResponse encoder (src/grpc/encode-wire.ts) says exactly what the
// proto-loader path says, for answers built by the real answer builder: allow and every deny shape,
// tenant or not, limit headers and numeric metadata, odd characters. Run by the bench before it
// measures anything; also runnable alone: node --import tsx bench/encoder-check.ts

import { isDeepStrictEqual } from 'node:util';
import { answerBuilder, type Answer } from '../src/decision/answer.js';
import type { Decision } from '../src/decision/decision.js';
import { configSchema } from '../src/config/schema.js';
import { encodeCheckResponse } from '../src/grpc/encode.js';
import { encodeCheckResponseBytes } from '../src/grpc/encode-wire.js';
import { authorizationServiceDefinition } from '../src/grpc/protos.js';

function answers(): Answer[] {
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
  for (const answer of answers()) {
    const referenceBytes = def.responseSerialize(encodeCheckResponse(answer));
    const ourBytes = encodeCheckResponseBytes(answer);
    const reference = def.responseDeserialize(referenceBytes);
    const ours = def.responseDeserialize(ourBytes);
    if (!isDeepStrictEqual(ours, reference)) {
      throw new Error(`CheckResponse encoders disagree:\n${JSON.stringify(reference)}\n${JSON.stringify(ours)}`);
    }
    // Same fields in the same order too: nothing for a stricter reader to see differently.
    if (!referenceBytes.equals(ourBytes)) {
      throw new Error(`CheckResponse encoders write different bytes:\n${referenceBytes.toString('hex')}\n${ourBytes.toString('hex')}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  checkEncoder();
  console.log('encode-wire.ts and proto-loader agree on every answer shape');
}
