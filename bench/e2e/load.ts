// h2load (nghttp2, C, one thread) against Envoy over h2c: closed loop for a row's maximum
// throughput, `--rps` for fixed offered rates. Latency comes from h2load's per-request log (time
// from the request's submission to its stream's end, µs); every response's status is counted.
//
// Why h2load: it is C on one event loop, far cheaper per request than Envoy or any Check server,
// so it is not what saturates (the run prints its CPU per request next to theirs). Its limit:
// `--rps` starts each client's requests on a timer, but a request waiting for a free stream slot
// (`-m`) is timed from when it is sent, not when it was due; `-m` is set far above what a row
// keeps in flight, and the achieved rate is reported, so a row that cannot keep up shows it.

import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const H2LOAD = process.env['H2LOAD'] ?? '/usr/bin/h2load';

export interface Shot {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** A body file: with one, h2load sends POST. */
  readonly bodyFile?: string;
}

export interface LoadResult {
  /** Offered rate (req/s) in rate mode; undefined for the closed-loop maximum. */
  readonly offered?: number;
  readonly achieved: number;
  readonly completed: number;
  /** Status code → count, from the per-request log. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Streams that ended without a response (resets, timeouts, connection errors). */
  readonly failed: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** h2load's own CPU time per completed request, µs. */
  readonly generatorCpuUs: number;
}

export interface LoadOptions {
  readonly port: number;
  readonly shot: Shot;
  readonly seconds: number;
  readonly warmup: number;
  readonly work: string;
  /** Closed loop: connections × streams kept full. */
  readonly closed?: { connections: number; streams: number };
  /** Open loop: total offered req/s over CONNECTIONS clients. */
  readonly rate?: number;
  /** Sampled while h2load runs: CPU seconds of the processes under test (pid → name). */
  readonly watch?: ReadonlyMap<number, string>;
}

const OPEN_CONNECTIONS = 4;
/** Per connection: 512 in flight in all, under the authz cluster's default circuit breaker (1024). */
const OPEN_STREAMS = 128;

export async function runLoad(o: LoadOptions): Promise<LoadResult & { cpuUs: Record<string, number> }> {
  const logFile = join(o.work, `h2load-${process.hrtime.bigint()}.log`);
  const mode = o.closed
    ? ['-c', String(o.closed.connections), '-m', String(o.closed.streams)]
    : ['-c', String(OPEN_CONNECTIONS), '-m', String(OPEN_STREAMS), `--rps=${(o.rate! / OPEN_CONNECTIONS).toFixed(1)}`];
  const args = [
    `http://127.0.0.1:${o.port}${o.shot.path}`,
    ...Object.entries(o.shot.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    ...(o.shot.bodyFile ? ['-d', o.shot.bodyFile] : []),
    ...mode,
    '-t', '1',
    '-D', String(o.seconds),
    `--warm-up-time=${o.warmup}`,
    `--log-file=${logFile}`,
  ];
  // CPU of each watched process (and of h2load) over the measured phase only: from the end of
  // the warm-up to h2load's exit, divided by the requests that phase completed.
  const watched = new Map(o.watch ?? []);
  let genPid = 0;
  let genCpu = 0;
  let genStart = 0;
  let start = new Map<number, number>();
  const mark = setTimeout(() => {
    start = new Map([...watched.keys()].map((pid) => [pid, cpuSeconds(pid)]));
    genStart = cpuSeconds(genPid);
  }, o.warmup * 1000);
  const timer = setInterval(() => genPid && (genCpu = cpuSeconds(genPid) || genCpu), 100);
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(H2LOAD, args, { timeout: (o.seconds + o.warmup + 30) * 1000, maxBuffer: 4 << 20 }, (error, out, err) =>
      error ? reject(new Error(`h2load: ${error.message}\n${err}`)) : resolve(out),
    );
    genPid = child.pid ?? 0;
  }).finally(() => {
    clearTimeout(mark);
    clearInterval(timer);
  });
  const parsed = parse(stdout, logFile, o.seconds);
  const perRequest = (seconds: number) => (parsed.completed ? (seconds / parsed.completed) * 1e6 : NaN);
  const cpuUs: Record<string, number> = {};
  for (const [pid, name] of watched) cpuUs[name] = perRequest(cpuSeconds(pid) - (start.get(pid) ?? 0));
  return { ...parsed, offered: o.rate, generatorCpuUs: perRequest(genCpu - genStart), cpuUs };
}

function parse(stdout: string, logFile: string, seconds: number): Omit<LoadResult, 'offered' | 'generatorCpuUs'> {
  const done = /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed/.exec(stdout);
  const lat: number[] = [];
  const statuses: Record<string, number> = {};
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line) continue;
    const [, status, us] = line.split('\t');
    statuses[status!] = (statuses[status!] ?? 0) + 1;
    lat.push(Number(us));
  }
  rmSync(logFile, { force: true });
  lat.sort((a, b) => a - b);
  const pct = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]! : NaN);
  return {
    achieved: lat.length / seconds,
    completed: lat.length,
    statuses,
    failed: Number(done?.[2] ?? 0),
    p50: pct(50),
    p99: pct(99),
    p999: pct(99.9),
    max: lat[lat.length - 1] ?? NaN,
  };
}

/** utime + stime of a process, seconds (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/pid/stat (1-based), after the ") " that ends the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export function h2loadVersion(): Promise<string> {
  return new Promise((resolve) => execFile(H2LOAD, ['--version'], (_e, out) => resolve(String(out).trim())));
}
