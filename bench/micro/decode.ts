// Micro-benchmark of CheckRequest decoding: proto-loader's deserializer (what a gRPC server would
// otherwise run, before any conversion to CheckInput) against decodeCheckInput (straight from the wire
// to CheckInput), on the bench's Envoy-shaped requests, timed in the same rounds so machine noise
// moves both sides. The agreement of the two decoders is test/unit/grpc/decode-wire.test.ts's job.
//
//   node --import tsx bench/micro/decode.ts [rounds=15] [ms-per-case=40]
//   or compiled, without tsx in the numbers (as bench/run.ts measures the server):
//   npx tsc -p tsconfig.json --noEmit false --outDir /tmp/modelgate-bench && node /tmp/modelgate-bench/bench/micro/decode.js
//
// "same bytes" decodes one request over and over, as the load generators send it; "fresh ids" cycles
// through requests whose x-request-id, traceparent and stream id differ, as real traffic does, which
// decodeCheckInput's string cache cannot serve.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { decodeCheckInput } from '../../src/grpc/decode-wire.js';
import type { PbCheckRequest } from '../../src/grpc/envoy-types.js';
import { authorizationServiceDefinition } from '../../src/grpc/protos.js';
import { makeFixtures, type PayloadName } from '../fixtures.js';

const rounds = Number(process.argv[2] ?? 15);
const msPerCase = Number(process.argv[3] ?? 40);
const SHAPES: PayloadName[] = ['api_key', 'jwt_es256', 'jwt_rs256', 'mtls_san'];
const FRESH = 256;
const PATH = '/v1/models/fraud-detector:predict';

const CASES = ['proto-loader deserialize', 'decodeCheckInput', 'proto-loader deserialize, fresh ids', 'decodeCheckInput, fresh ids'] as const;
type Case = (typeof CASES)[number];

function fail(message: string): never {
  throw new Error(`decode bench: wrong result: ${message}`);
}

function timeIt(fn: () => void): number {
  const start = performance.now();
  const deadline = start + msPerCase;
  let n = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return ((performance.now() - start) * 1e6) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The same request with the per-request values a real Envoy changes every time. */
function withFreshIds(request: PbCheckRequest): PbCheckRequest {
  const copy = structuredClone(request);
  const http = copy.attributes!.request!.http!;
  http.id = String(BigInt(`0x${randomBytes(8).toString('hex')}`) >> 1n);
  http.headers!['x-request-id'] = randomUUID();
  http.headers!.traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
  return copy;
}

const def = authorizationServiceDefinition().Check!;
const deserialize = def.requestDeserialize as (b: Buffer) => PbCheckRequest;

/** decodeCheckInput reads what proto-loader reads from these bytes: the HTTP fields and the source. */
function checkAgree(name: string, bytes: Buffer): void {
  const input = decodeCheckInput(bytes);
  const read = deserialize(bytes).attributes;
  const http = read?.request?.http;
  if (typeof input !== 'object' || !http) return fail(`${name}: not decoded`);
  const same =
    input.path === http.path &&
    input.method === http.method &&
    input.host === http.host &&
    input.streamId === (http.id ?? '') &&
    isDeepStrictEqual({ ...input.headers }, { ...http.headers }) &&
    isDeepStrictEqual({ ...input.contextExtensions }, { ...read.context_extensions }) &&
    input.source.principal === (read.source?.principal ?? '') &&
    input.body?.text === http.body;
  if (!same) fail(`${name}: decodeCheckInput disagrees with proto-loader`);
}

const dir = mkdtempSync(join(tmpdir(), 'modelgate-decode-'));
try {
  const fx = await makeFixtures(dir);
  const shapes = SHAPES.map((name) => {
    const request = fx.payloads[name].request;
    const bytes = def.requestSerialize(request);
    const fresh = Array.from({ length: FRESH }, () => def.requestSerialize(withFreshIds(request)));
    for (const b of [bytes, ...fresh]) checkAgree(name, b);
    let i = 0;
    let j = 0;
    const cases: Record<Case, () => void> = {
      'proto-loader deserialize': () => {
        if (deserialize(bytes).attributes?.request?.http?.path !== PATH) fail('deserialize');
      },
      decodeCheckInput: () => {
        const input = decodeCheckInput(bytes);
        if (typeof input !== 'object' || input.path !== PATH) fail('wire');
      },
      'proto-loader deserialize, fresh ids': () => {
        if (deserialize(fresh[i++ % FRESH]!).attributes?.request?.http?.path !== PATH) fail('deserialize, fresh');
      },
      'decodeCheckInput, fresh ids': () => {
        const input = decodeCheckInput(fresh[j++ % FRESH]!);
        if (typeof input !== 'object' || input.path !== PATH) fail('wire, fresh');
      },
    };
    return { label: `${name} (${bytes.length} B)`, cases };
  });

  // Short slices, every case back to back in each round, and ratios taken per round: on a shared
  // machine the load drifts, and a paired ratio moves far less than either side alone.
  const samples = shapes.map(() => new Map<Case, number[]>(CASES.map((c) => [c, []])));
  for (let round = 0; round <= rounds; round++) {
    shapes.forEach((shape, s) => {
      for (const c of CASES) {
        const ns = timeIt(shape.cases[c]);
        if (round > 0) samples[s]!.get(c)!.push(ns); // round 0 warms the JIT
      }
    });
  }

  console.log(`${rounds} rounds × ${msPerCase} ms per case; median (min–max) ns/op; ratios are medians of per-round ratios`);
  shapes.forEach((shape, s) => {
    const xs = samples[s]!;
    for (const c of CASES) {
      const v = xs.get(c)!;
      console.log(`${`${shape.label}: ${c}`.padEnd(70)} ${median(v).toFixed(0).padStart(6)} ns (${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)})`);
    }
    const ratio = (a: Case, b: Case) => `${(100 * median(xs.get(a)!.map((v, i) => v / xs.get(b)![i]!))).toFixed(0)}%`;
    console.log(
      `${shape.label}: decodeCheckInput = ${ratio('decodeCheckInput', 'proto-loader deserialize')} of deserialize (same bytes), ` +
        `${ratio('decodeCheckInput, fresh ids', 'proto-loader deserialize, fresh ids')} (fresh ids)\n`,
    );
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
