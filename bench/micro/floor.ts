// The floor of the Check path: how fast can anything on this Node stack answer a unary gRPC call,
// and how much of that does grpc-js, then modelgate, keep? Every server stays up and each round
// measures them back to back (order rotating) with h2load, so drifting background load lands on all
// alike; each server is reported as a share of the first one, per round, median and range.
//
//   npm run bench:floor -- [--rounds 5] [--seconds 2] [--payload api_key] [--streams 8] [--rate N] [spec ...]
//   (--rate N: every server gets N req/s offered instead of a closed loop; compare CPU µs/answer)
//   (default specs: h2 grpc mg=bench/results/dist; build a dist with `tsc -p tsconfig.build.json --outDir <dist>`)
//
// Specs:
//   h2              a minimal node:http2 gRPC responder: reads the request, answers a fixed CheckResponse
//                   (status OK) with grpc-status trailers. No grpc-js: the floor of node:http2 itself.
//   grpc            a no-op grpc-js server: pass-through (de)serializers, the same fixed answer.
//   grpc{json}      the same with these server options, e.g. 'grpc{"grpc.enable_channelz":0}'.
//   mg=<dist>[@N]   modelgate from a compiled dist (its real CLI), N workers (default 1).
// The two plain servers run as plain JavaScript (node -e), not through tsx, whose closure wrappers
// would cost them CPU that modelgate's compiled build does not pay.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkClient } from '../../src/grpc/client.js';
import { makeFixtures, type Payload, type PayloadName } from '../fixtures.js';
import { promisify } from 'node:util';
import { closedLoop, H2LOAD } from '../h2load.js';
import { freePort, ROOT, sampleDecisions } from '../procs.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const rounds = Number(flag('rounds', '5'));
const seconds = Number(flag('seconds', '2'));
const streams = Number(flag('streams', '8'));
const payloadName = flag('payload', 'api_key') as PayloadName;
/** With --rate, every server gets the same offered load (h2load --rps) and CPU µs/answer is the measure. */
const rate = Number(flag('rate', '0'));
const valued = new Set(['--rounds', '--seconds', '--payload', '--streams', '--rate']);
const specs = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !valued.has(all[i - 1] ?? ''));
if (specs.length === 0) specs.push('h2', 'grpc', 'mg=bench/results/dist');

/** CheckResponse { status: { code: 0 } } as a gRPC message: flag 0, length 2, then `0a 00`. */
const H2_RESPONDER = `
import http2 from 'node:http2';
const FRAME = Buffer.from([0, 0, 0, 0, 2, 0x0a, 0x00]);
const server = http2.createServer();
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.on('data', () => {});
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' }));
    stream.end(FRAME);
  });
});
server.listen(Number(process.env.FLOOR_PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const GRPC_NOOP = `
import * as grpc from '@grpc/grpc-js';
const ANSWER = Buffer.from([0x0a, 0x00]);
const id = (b) => b;
const server = new grpc.Server(JSON.parse(process.env.FLOOR_OPTIONS || '{}'));
server.addService(
  { Check: { path: '/envoy.service.auth.v3.Authorization/Check', requestStream: false, responseStream: false,
      requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  { Check: (call, callback) => callback(null, ANSWER) },
);
server.bindAsync('127.0.0.1:' + process.env.FLOOR_PORT, grpc.ServerCredentials.createInsecure(), (e) => { if (e) throw e; });
process.on('SIGTERM', () => process.exit(0));
`;

interface Running {
  readonly spec: string;
  readonly port: number;
  readonly proc: ChildProcess;
  readonly modelgate: boolean;
}

const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));

async function start(spec: string, configFile: (admin: number) => string, probe: Payload): Promise<Running> {
  const port = await freePort();
  let args: string[];
  let env: NodeJS.ProcessEnv = { ...process.env, FLOOR_PORT: String(port) };
  const mg = /^mg=(.+?)(?:@(\d+))?$/.exec(spec);
  if (spec === 'h2') args = ['--input-type=module', '-e', H2_RESPONDER];
  else if (spec.startsWith('grpc')) {
    args = ['--input-type=module', '-e', GRPC_NOOP];
    env = { ...env, FLOOR_OPTIONS: spec.slice(4) || '{}' };
  } else if (mg) {
    const cli = join(resolve(ROOT, mg[1]!), 'cli', 'index.js');
    args = [cli, 'serve', '--config', configFile(await freePort()), '--address', `127.0.0.1:${port}`, '--workers', mg[2] ?? '1'];
  } else throw new Error(`unknown server spec '${spec}'`);
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(proc);
  for (const deadline = Date.now() + 30_000; ; ) {
    const client = checkClient(`127.0.0.1:${port}`);
    // A real grpc-js client must read the answer: the h2 responder is checked to speak gRPC too.
    const up = await client.check(probe.request, 1000).then((r) => (r.status?.code ?? 0) === 0 || !!mg, () => false);
    client.close();
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`${spec} did not start`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { spec, port, proc, modelgate: !!mg };
}

async function checkDecisions(servers: Running[], payload: Payload): Promise<void> {
  for (const s of servers.filter((x) => x.modelgate)) {
    const sampled = await sampleDecisions(s.port, payload, 10, false);
    if (sampled.wrong.length > 0) throw new Error(`${s.spec}: wrong decisions ${sampled.wrong.join('; ')}`);
  }
}

/** h2load at a fixed offered rate over 4 connections: achieved req/s and failures. */
async function openLoop(port: number, file: string): Promise<{ rps: number; failed: number }> {
  const url = `http://127.0.0.1:${port}/envoy.service.auth.v3.Authorization/Check`;
  const args = [url, '-d', file, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-c', '4', '-m', String(streams), '-t', '1', '--rps', String(rate / 4), '-D', String(seconds), '--warm-up-time=1'];
  const { stdout } = await promisify(execFile)(H2LOAD, args, { timeout: (seconds + 31) * 1000, maxBuffer: 4 << 20 });
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? NaN);
  const done = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed/.exec(stdout);
  const codes = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  return { rps, failed: Number(done?.[1] ?? 0) + Number(codes?.[1] ?? 0) + Number(codes?.[2] ?? 0) + Number(codes?.[3] ?? 0) };
}

/** CPU seconds (user + system) of a process and its live children (the workers of `--workers N`). */
function cpuSeconds(pid: number): number {
  const read = (p: number): number => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      return Number(fields[11]) + Number(fields[12]) + children.reduce((sum, c) => sum + read(c), 0);
    } catch {
      return 0; // exited between reads
    }
  };
  return read(pid) / 100; // clock ticks (USER_HZ is 100 on Linux)
}

const work = mkdtempSync(join(tmpdir(), 'modelgate-floor-'));
try {
  const fx = await makeFixtures(work);
  const payload = fx.payloads[payloadName];
  const servers: Running[] = [];
  for (const spec of specs) servers.push(await start(spec, (admin) => fx.configFile(admin), payload));
  await checkDecisions(servers, payload);
  const rps: number[][] = servers.map(() => []);
  const cpuUs: number[][] = servers.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = servers.map((_, i) => (i + round) % servers.length);
    for (const i of order) {
      const cpu0 = cpuSeconds(servers[i]!.proc.pid!);
      const r = rate > 0 ? await openLoop(servers[i]!.port, payload.file) : await closedLoop({ port: servers[i]!.port, file: payload.file, connections: 4, streams, seconds, warmupSeconds: 1, logFile: join(work, 'h2load.log') });
      if (r.failed > 0) throw new Error(`${servers[i]!.spec}: ${r.failed} failed requests`);
      rps[i]!.push(r.rps);
      // CPU over warm-up + measured phase, per request at the measured rate over both (an estimate).
      cpuUs[i]!.push((1e6 * (cpuSeconds(servers[i]!.proc.pid!) - cpu0)) / (r.rps * (seconds + 1)));
    }
    const base = rps[0]![round]!;
    console.log(`round ${round + 1}: ` + servers.map((s, i) => `${s.spec} ${rps[i]![round]!.toFixed(0)}/s (${((100 * rps[i]![round]!) / base).toFixed(0)}%, ${cpuUs[i]![round]!.toFixed(0)} µs)`).join(', '));
  }
  await checkDecisions(servers, payload);
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const load = rate > 0 ? `h2load --rps, ${rate}/s offered over 4 connections` : `h2load closed loop, 4 connections × ${streams} streams`;
  console.log(`\n${rounds} rounds × ${seconds} s, ${load}, payload ${payloadName}; share of ${servers[0]!.spec}, per round:`);
  servers.forEach((s, i) => {
    const ratios = rps[i]!.map((v, r) => v / rps[0]![r]!);
    const cpuRatios = cpuUs[i]!.map((v, r) => v / cpuUs[0]![r]!);
    console.log(`  ${s.spec}: median ${median(rps[i]!).toFixed(0)}/s (${Math.min(...rps[i]!).toFixed(0)}–${Math.max(...rps[i]!).toFixed(0)}); × ${servers[0]!.spec} median ${pct(median(ratios))}, range ${pct(Math.min(...ratios))}–${pct(Math.max(...ratios))}; CPU µs/answer median ${median(cpuUs[i]!).toFixed(1)} (${Math.min(...cpuUs[i]!).toFixed(1)}–${Math.max(...cpuUs[i]!).toFixed(1)}), × ${servers[0]!.spec} median ${pct(median(cpuRatios))}, range ${pct(Math.min(...cpuRatios))}–${pct(Math.max(...cpuRatios))}`);
  });
  for (const s of servers) s.proc.kill('SIGTERM');
} finally {
  rmSync(work, { recursive: true, force: true });
}
