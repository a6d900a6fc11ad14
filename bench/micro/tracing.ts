// What OpenTelemetry tracing costs a check: the full check (authorizer + finish, decision line
// included) with tracing off, and on with Envoy's trace context in the call metadata sampled at 1%
// and at 100%, plus a root-sampled 1% row (no parent: modelgate's own traceidratio decides). Spans
// really go out: OTLP/HTTP protobuf to a collector process that drains the bytes, with the event
// loop turned every 100 checks and each row's spans flushed before its clock stops, so the batch
// export is charged to the row that made it. Cost is this process's CPU time (user + system, all
// threads) per check, which a machine shared with other work disturbs far less than wall time.
// The rows run interleaved in the same rounds, and each is printed as a ratio to tracing off.
//
//   npm run bench:tracing -- [rounds=9] [ms-per-case=300]

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decisionLog, type DecisionLog } from '../../src/decision/decision-log.js';
import { checkInputFromMessage } from '../../src/grpc/decode-message.js';
import type { Authorizer } from '../../src/check/authorizer-port.js';
import { createAuthorizer } from '../../src/pipeline/authorizer.js';
import { tracingSettings } from '../../src/tracing/settings.js';
import { startTracing, type RunningTracing } from '../../src/tracing/start.js';
import { benchStages } from './bench-stages.js';

const rounds = Number(process.argv[2] ?? 9);
const msPerCase = Number(process.argv[3] ?? 300);

function fail(message: string): never {
  throw new Error(`tracing bench: wrong result: ${message}`);
}

// The collector, in its own process so its CPU is not counted: drains each request, decodes nothing,
// and reports how many requests and bytes it got when asked on stdin.
const collector = spawn(
  process.execPath,
  [
    '-e',
    `let n = 0, bytes = 0;
     const server = require('node:http').createServer((req, res) => {
       req.on('data', (c) => (bytes += c.length));
       req.on('end', () => { n++; res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(); });
     });
     server.listen(0, '127.0.0.1', () => console.log(server.address().port));
     process.stdin.on('data', () => console.log(n + ' ' + bytes));`,
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const collectorSays = async () => String((await once(collector.stdout!, 'data'))[0]).trim();
const endpoint = `http://127.0.0.1:${await collectorSays()}`;

const dir = mkdtempSync(join(tmpdir(), 'modelgate-tracing-bench-'));
const running: RunningTracing[] = [];
try {
  const { fx, stages, clock, logger } = await benchStages(dir);
  const plainLog = decisionLog(logger, true, { trace: true });

  /** A traced decision log with the batch processor sized so 100% sampling is exported, not dropped. */
  async function traced(sampler: string, ratio?: number): Promise<{ log: DecisionLog; flush: () => Promise<void> }> {
    const env: Record<string, string> = {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_TRACES_SAMPLER: sampler,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2048',
      OTEL_BSP_MAX_QUEUE_SIZE: '65536',
    };
    if (ratio !== undefined) env.OTEL_TRACES_SAMPLER_ARG = String(ratio);
    const result = tracingSettings(env);
    if (!result.ok || !result.settings) fail(JSON.stringify(result));
    const t = await startTracing(result.settings, (error) => fail(`export: ${String(error)}`));
    running.push(t);
    return { log: t.traceChecks(plainLog), flush: () => t.flush() };
  }

  const input = checkInputFromMessage(fx.payloads.api_key.request)!;
  // The bench's request carries a client's sampled traceparent; the root row needs one without.
  const { traceparent: _, ...untracedHeaders } = input.headers;
  const untraced = { ...input, headers: untracedHeaders };
  if (!input.headers.traceparent) fail('the fixture request lost its traceparent');
  // One tracer per row, so each row's export is charged to that row (flushed before its clock stops).
  const row = async (sampler?: string, ratio?: number) => {
    const t = sampler ? await traced(sampler, ratio) : { log: plainLog, flush: async () => {} };
    return { authorizer: createAuthorizer({ current: stages }, { log: t.log }), flush: t.flush };
  };
  const off = await row();
  const parent1 = await row('parentbased_always_on');
  const parent100 = await row('parentbased_always_on');
  const root1 = await row('parentbased_traceidratio', 0.01);

  // Envoy's gRPC client puts its span in the call metadata; its sampler decides the flag.
  let seq = 0;
  const envoyTrace = (sampledEvery: number) => {
    seq++;
    const trace = seq.toString(16).padStart(32, '0');
    const header = `00-${trace}-00f067aa0ba902b7-${seq % sampledEvery === 0 ? '01' : '00'}`;
    return (name: string) => (name === 'traceparent' ? header : undefined);
  };
  const run = async (authorizer: Authorizer, transport?: (name: string) => string | undefined, request = input) => {
    clock.ms++;
    const o = await authorizer(request);
    if (!o.decision.allowed || o.decision.reason !== 'allowed') fail('check');
    o.finish(transport);
  };
  const cases: Record<string, { check: () => Promise<void>; flush: () => Promise<void> }> = {
    'tracing off (Envoy trace context in metadata)': { check: () => run(off.authorizer, envoyTrace(1)), flush: off.flush },
    'tracing on, Envoy samples 1% (parent-based)': { check: () => run(parent1.authorizer, envoyTrace(100)), flush: parent1.flush },
    'tracing on, Envoy samples 100% (parent-based)': { check: () => run(parent100.authorizer, envoyTrace(1)), flush: parent100.flush },
    'tracing on, no parent, traceidratio 1%': { check: () => run(root1.authorizer, undefined, untraced), flush: root1.flush },
  };

  const turn = () => new Promise((done) => setImmediate(done));
  const samples = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
  const names = Object.keys(cases);
  for (let round = 0; round < rounds; round++) {
    // The order rotates each round: a row that leaves garbage behind (100% sampling) charges the
    // next row's scavenges, and rotating spreads that evenly instead of onto one fixed neighbour.
    for (let r = 0; r < names.length; r++) {
      const name = names[(r + round) % names.length]!;
      const { check, flush } = cases[name]!;
      const deadline = performance.now() + msPerCase;
      let n = 0;
      const start = process.cpuUsage();
      while (performance.now() < deadline) {
        for (let i = 0; i < 100; i++) await check();
        n += 100;
        await turn(); // timers and sockets: the batch export runs here, inside the measured time
      }
      await flush(); // what this row queued is exported on its own clock, not the next row's
      const cpu = process.cpuUsage(start);
      if (round > 0) samples.get(name)!.push(((cpu.user + cpu.system) * 1e3) / n);
    }
  }
  for (const t of running) await t.shutdown();
  collector.stdin!.write('?\n');
  const [exportRequests, exportBytes] = (await collectorSays()).split(' ').map(Number) as [number, number];
  if (exportRequests === 0) fail('no span was exported');

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(samples.get('tracing off (Envoy trace context in metadata)')!);
  console.log(`${rounds - 1} rounds × ${msPerCase} ms per case; median (min–max) CPU ns per check; ratio = median / tracing-off median`);
  for (const [name, xs] of samples) {
    const m = median(xs);
    console.log(`${name.padEnd(48)} ${m.toFixed(0).padStart(7)} ns (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})  ${(m / base).toFixed(2)}×`);
  }
  console.log(`exported: ${exportRequests} OTLP requests, ${(exportBytes / 1e6).toFixed(1)} MB`);
} finally {
  for (const t of running) await t.shutdown();
  collector.kill();
  rmSync(dir, { recursive: true, force: true });
}
