// Closed-loop runs with h2load (nghttp2-client): N connections × M streams each, kept full for a
// fixed time. Throughput from h2load's summary, percentiles from its per-request log file.

import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const H2LOAD = process.env.H2LOAD ?? '/usr/bin/h2load';

export interface ClosedLoopResult {
  readonly connections: number;
  readonly streams: number;
  readonly rps: number;
  readonly requests: number;
  /** 2xx responses (h2load cannot read gRPC trailers; the sampler and loadgen check decisions). */
  readonly ok200: number;
  /** Failed requests plus non-2xx responses. */
  readonly failed: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
}

export async function h2loadVersion(): Promise<string> {
  const { stdout } = await run(H2LOAD, ['--version']);
  return stdout.trim();
}

export async function closedLoop(o: {
  port: number;
  file: string;
  connections: number;
  streams: number;
  seconds: number;
  warmupSeconds: number;
  logFile: string;
}): Promise<ClosedLoopResult> {
  const { stdout } = await run(
    H2LOAD,
    [
      `http://127.0.0.1:${o.port}/envoy.service.auth.v3.Authorization/Check`,
      '-d', o.file,
      '-H', 'content-type: application/grpc',
      '-H', 'te: trailers',
      '-c', String(o.connections),
      '-m', String(o.streams),
      '-t', '1',
      '-D', `${o.seconds}`,
      `--warm-up-time=${o.warmupSeconds}`,
      `--log-file=${o.logFile}`,
    ],
    { timeout: (o.seconds + o.warmupSeconds + 30) * 1000, maxBuffer: 4 << 20 },
  );
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? NaN);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  const done = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(stdout);
  const lat: number[] = [];
  let ok200 = 0;
  for (const line of readFileSync(o.logFile, 'utf8').split('\n')) {
    if (!line) continue;
    const [, status, us] = line.split('\t');
    if (status === '200') ok200++;
    lat.push(Number(us));
  }
  rmSync(o.logFile, { force: true });
  lat.sort((a, b) => a - b);
  const pct = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]! : NaN);
  return {
    connections: o.connections,
    streams: o.streams,
    rps,
    requests: Number(done?.[2] ?? lat.length),
    ok200: Number(codes?.[1] ?? ok200),
    failed: Number(done?.[4] ?? 0) + Number(codes?.[2] ?? 0) + Number(codes?.[3] ?? 0) + Number(codes?.[4] ?? 0),
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    p999: pct(99.9),
  };
}
