// Micro-benchmark of input rules (guardrails.input): the whole check of a chat request through the
// authorizer with the shipped rule pack (examples/guardrails/input-rules.yaml, 7 rules, 3 regexes)
// against the same config without input rules, measured in the same rounds; plus the parts alone.
// Every case checks its result inside the loop.
//
//   npm run bench:input-rules [-- rounds=7 ms-per-case=150]

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStages } from '../../src/app/load-stages.js';
import type { CheckInput } from '../../src/check/check-input.js';
import { lazyJsonBody } from '../../src/check/body.js';
import { depthExceeds } from '../../src/guardrails/input/body-bounds.js';
import { screenInput } from '../../src/guardrails/input/evaluate.js';
import { createAuthorizer } from '../../src/pipeline/authorizer.js';
import { unlimited } from '../../src/ratelimit/limiter.js';
import { median, sampleCases } from './sample-cases.js';

const rounds = Number(process.argv[2] ?? 7);
const msPerCase = Number(process.argv[3] ?? 150);
const PACK = join(import.meta.dirname, '..', '..', 'examples', 'guardrails', 'input-rules.yaml');

function fail(message: string): never {
  throw new Error(`input-rules bench: wrong result: ${message}`);
}

function chatInput(chars: number): CheckInput {
  const turn = 'Could you help me plan a three-day trip to Lisbon with museums and food markets? ';
  const messages = [{ role: 'user', content: turn.repeat(Math.ceil(chars / 2 / turn.length)).slice(0, chars / 2) }, { role: 'assistant', content: 'Sure. '.repeat(chars / 12) }, { role: 'user', content: 'Thanks, and the weekend?' }];
  return {
    requestId: 'r', streamId: '1', method: 'POST', path: '/v1/chat/completions', host: 'h', scheme: 'https', headers: {}, contextExtensions: {}, filterMetadata: {},
    source: { principal: 'spiffe://example.org/app/chat-frontend', certificate: '', address: '10.0.0.1:1' },
    body: { text: JSON.stringify({ model: 'gpt-4o-mini', messages }), partial: false },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'modelgate-input-bench-'));
try {
  const text = readFileSync(PACK, 'utf8');
  const withoutFile = join(dir, 'without.yaml');
  writeFileSync(withoutFile, text.slice(0, text.indexOf('\nguardrails:')));
  const load = (file: string) => {
    const l = loadStages(file, { env: {}, now: Date.now, limiter: unlimited });
    if (!l.ok) fail(l.error.lines.join('\n'));
    return l.stages;
  };
  const withRules = load(PACK);
  const without = load(withoutFile);
  if (!withRules.inputRules || without.inputRules) fail('stages');
  const hooks = { log: () => {} };
  const authorizeWith = createAuthorizer({ current: withRules }, hooks);
  const authorizeWithout = createAuthorizer({ current: without }, hooks);
  const small = chatInput(1024);
  const large = chatInput(16 * 1024);
  // Just under oversize-input (60000 characters): every regex scans the most the pack lets it.
  const worst = chatInput(58 * 1024);
  const identity = { subject: 'mtls:x', method: 'mtls' as const, roles: ['chat_user'], attributes: {} };
  const parsedLarge: unknown = JSON.parse(large.body!.text);
  const target = { model: 'gpt-4o-mini', action: 'chat', path: '/v1/chat/completions' };

  const check = (authorize: typeof authorizeWith, input: CheckInput, shadowHits: number) => async () => {
    const o = await authorize(input);
    if (!o.decision.allowed || o.decision.shadowRules.length !== shadowHits) fail(`check ${o.decision.reason}`);
  };
  const cases: Record<string, () => void | Promise<void>> = {
    'baseline: full check, no input rules, 1 KB chat': check(authorizeWithout, small, 0),
    'full check, rule pack, 1 KB chat': check(authorizeWith, small, 0),
    'baseline: full check, no input rules, 16 KB chat': check(authorizeWithout, large, 0),
    'full check, rule pack, 16 KB chat': check(authorizeWith, large, 0),
    'full check, rule pack, 58 KB chat (worst case)': check(authorizeWith, worst, 0),
    'screenInput alone (fresh parse), 16 KB chat': () => {
      const v = screenInput(withRules.inputRules, { identity, target, input: large, body: lazyJsonBody(large.body) }, []);
      if (!v.allowed) fail('screen');
    },
    'depth walk alone, 16 KB chat': () => {
      if (depthExceeds(parsedLarge, 32)) fail('depth');
    },
  };

  const samples = new Map([...(await sampleCases(cases, { rounds, msPerCase, batch: 20 }))].map(([name, ns]) => [name, ns.map((x) => x / 1e3)]));
  console.log(`${rounds - 1} rounds × ${msPerCase} ms per case; median (min–max) µs per op`);
  for (const [name, xs] of samples) {
    console.log(`${name.padEnd(48)} ${median(xs).toFixed(1).padStart(7)} µs (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`);
  }
  for (const size of ['1 KB', '16 KB']) {
    const added = median(samples.get(`full check, rule pack, ${size} chat`)!) - median(samples.get(`baseline: full check, no input rules, ${size} chat`)!);
    console.log(`input rules add ${added.toFixed(1)} µs per check (${size} chat)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
