// Micro-benchmark of response masking (src/guardrails/mask/): µs per KB of response for a JSON chat
// completion and for the same answer as an SSE stream (one event per word, as models stream), each
// next to its baseline in the same rounds: JSON.parse + JSON.stringify of the same bytes (what any
// JSON-aware rewrite pays at least). Every iteration checks its output against the expected bytes.
//
//   npm run bench:masking [-- rounds=9 ms-per-case=60]
//   or compiled, without tsx in the numbers:
//   npx tsc -p tsconfig.json --noEmit false --outDir /tmp/modelgate-bench && node /tmp/modelgate-bench/bench/micro/masking.js

import { compileMasking } from '../../src/guardrails/mask/compile.js';
import { maskingSchema } from '../../src/guardrails/mask/config.js';

const rounds = Number(process.argv[2] ?? 9);
const msPerCase = Number(process.argv[3] ?? 60);

function fail(message: string): never {
  throw new Error(`masking bench: wrong result: ${message}`);
}

// Secrets made here, never checked in: a Luhn-valid card, an email, an sk- key.
const CARD = '4111 1111 1111 1111';
const KEY = `sk-proj-${'Ab3'.repeat(14)}`;
const PROSE = 'The quarterly report shows revenue grew in every region, with the strongest gains in the north. ';
const SECRET_LINE = `Contact jane.roe@example.org, card ${CARD}, key ${KEY}. `;
/** ~4 KB of answer: mostly prose, a few secrets, as a real answer would have. */
const ANSWER = `${PROSE.repeat(12)}${SECRET_LINE}${PROSE.repeat(24)}${SECRET_LINE}${PROSE.repeat(4)}`;
const CLEAN = PROSE.repeat(42);
const MASKED = ANSWER.replaceAll('jane.roe@example.org', '[email]').replaceAll(CARD, '[card]').replaceAll(KEY, '[api_key]');

const frame = { id: 'chatcmpl-bench', created: 1_764_300_000, model: 'gpt-4o' };
const jsonBody = (content: string) =>
  Buffer.from(JSON.stringify({ ...frame, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 50, completion_tokens: 900, total_tokens: 950 } }));
function sseBody(content: string): Buffer {
  const chunk = (choices: unknown[]) => `data: ${JSON.stringify({ ...frame, object: 'chat.completion.chunk', choices })}\n\n`;
  let out = chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  for (const word of content.split(/(?<= )/)) out += chunk([{ index: 0, delta: { content: word }, finish_reason: null }]);
  return Buffer.from(`${out}${chunk([{ index: 0, delta: {}, finish_reason: 'stop' }])}data: [DONE]\n\n`);
}
/** The streamed text of an SSE body, checked per event to be valid JSON. */
function sseText(body: Buffer): string {
  let text = '';
  for (const block of body.toString('utf8').split('\n\n')) {
    if (!block.startsWith('data: {')) continue;
    for (const c of (JSON.parse(block.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices) text += c.delta.content ?? '';
  }
  return text;
}

const masking = compileMasking(maskingSchema.parse({}));
const view = (contentType: string) => ({ subject: 'bench', roles: ['analyst'], model: 'gpt-4o', contentType, contentEncoding: 'identity' });
/** Feeds `body` in 1 KB pieces, as Envoy streams a body. */
function run(contentType: string, body: Buffer): Buffer {
  const t = masking.factory(view(contentType)) ?? fail('no transformer');
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += 1024) out.push(t.push(body.subarray(at, at + 1024), at + 1024 >= body.length));
  return Buffer.concat(out);
}

const json = jsonBody(ANSWER);
const jsonExpected = jsonBody(MASKED);
const jsonClean = jsonBody(CLEAN);
const sse = sseBody(ANSWER);
const sseClean = sseBody(CLEAN);
if (!run('application/json', json).equals(jsonExpected)) fail('JSON');
if (sseText(run('text/event-stream', sse)) !== MASKED) fail('SSE');

const CASES = {
  'JSON with secrets: mask': { bytes: json.length, fn: () => run('application/json', json).equals(jsonExpected) || fail('JSON') },
  'JSON without secrets: mask': { bytes: jsonClean.length, fn: () => run('application/json', jsonClean).equals(jsonClean) || fail('JSON clean') },
  'JSON baseline: parse + stringify': { bytes: json.length, fn: () => JSON.stringify(JSON.parse(json.toString('utf8'))).length > 0 || fail('baseline') },
  'SSE with secrets: mask': { bytes: sse.length, fn: () => run('text/event-stream', sse).length > 0 || fail('SSE') },
  'SSE without secrets: mask': { bytes: sseClean.length, fn: () => run('text/event-stream', sseClean).equals(sseClean) || fail('SSE clean') },
  'SSE baseline: parse + stringify each event': {
    bytes: sse.length,
    fn: () => {
      let n = 0;
      for (const block of sse.toString('utf8').split('\n\n')) if (block.startsWith('data: {')) n += JSON.stringify(JSON.parse(block.slice(6))).length;
      return n > 0 || fail('SSE baseline');
    },
  },
} as const;
type Case = keyof typeof CASES;

function timeIt(fn: () => unknown): number {
  const start = performance.now();
  const deadline = start + msPerCase;
  let n = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
  }
  return ((performance.now() - start) * 1000) / n; // µs per run
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const samples = new Map<Case, number[]>(Object.keys(CASES).map((c) => [c as Case, []]));
for (let round = 0; round <= rounds; round++) {
  for (const [name, c] of Object.entries(CASES)) {
    const perKb = timeIt(c.fn) / (c.bytes / 1024);
    if (round > 0) samples.get(name as Case)!.push(perKb); // round 0 warms the JIT
  }
}
// The streamed SSE output is also checked event by event once more after timing (valid JSON, masked).
if (sseText(run('text/event-stream', sse)) !== MASKED) fail('SSE after timing');

console.log(`${rounds} rounds × ${msPerCase} ms per case; median (min–max) µs per KB of response, fed in 1 KB pieces`);
for (const [name, xs] of samples) {
  console.log(`${`${name} (${(CASES[name].bytes / 1024).toFixed(1)} KB)`.padEnd(58)} ${median(xs).toFixed(1).padStart(6)} µs/KB (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`);
}
const ratio = (a: Case, b: Case) => (median(samples.get(a)!) / median(samples.get(b)!)).toFixed(1);
console.log(`JSON mask = ${ratio('JSON with secrets: mask', 'JSON baseline: parse + stringify')}× its baseline; SSE mask = ${ratio('SSE with secrets: mask', 'SSE baseline: parse + stringify each event')}× its baseline`);
