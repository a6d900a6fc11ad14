// Open-loop, checked load generator (its own process, raw node:http2): sends the framed CheckRequest
// at a fixed rate, measures each latency from the *intended* send time (no coordinated omission),
// and checks every answer: HTTP 200, grpc-status 0 in the trailers, and the expected decision.
//
//   node --import tsx bench/loadgen.ts '{"port":9300,"file":"x.grpc","rate":5000,"seconds":10,
//     "connections":4,"expect":{"code":0,"reason":"allowed"}}'
// Prints one JSON line with counts and percentiles (µs). Stops by itself after `seconds` + 5 s.

import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';

interface Args {
  port: number;
  file: string;
  rate: number;
  seconds: number;
  connections: number;
  expect: { code: number; reason: string };
  /** Pass the ceiling's bare OK (no metadata) as correct. */
  bare?: boolean;
  /** Seconds at the same rate before recording starts (JIT, connection windows). */
  warmup?: number;
}

const args = JSON.parse(process.argv[2]!) as Args;
const body = readFileSync(args.file);
const reason = Buffer.from(args.expect.reason);
const HEADERS = {
  [constants.HTTP2_HEADER_METHOD]: 'POST',
  [constants.HTTP2_HEADER_PATH]: '/envoy.service.auth.v3.Authorization/Check',
  [constants.HTTP2_HEADER_SCHEME]: 'http',
  [constants.HTTP2_HEADER_AUTHORITY]: `127.0.0.1:${args.port}`,
  'content-type': 'application/grpc',
  te: 'trailers',
};

/** CheckResponse.status (field 1) → google.rpc.Status.code (field 1); absent means 0. */
function statusCode(frame: Buffer): number | undefined {
  if (frame.length < 5) return undefined;
  let i = 5;
  const end = frame.length;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = frame[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < end) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint();
      if (tag >>> 3 === 1) {
        const stop = i + len;
        while (i < stop) {
          const t = varint();
          if (t === 8) return varint();
          if ((t & 7) === 0) varint();
          else if ((t & 7) === 2) i += varint();
          else return undefined;
        }
        return 0;
      }
      i += len;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else return undefined;
  }
  return 0;
}

const warm = Math.ceil(args.rate * (args.warmup ?? 0));
const total = warm + Math.ceil(args.rate * args.seconds);
const latencies = new Float64Array(total - warm);
let completed = 0;
let correct = 0;
let wrong = 0;
let errors = 0;
let firstWrong: string | undefined;

function open(): ClientHttp2Session {
  const s = connect(`http://127.0.0.1:${args.port}`, { settings: { initialWindowSize: 1 << 20 } });
  s.on('error', () => {});
  return s;
}
const sessions: ClientHttp2Session[] = Array.from({ length: args.connections }, open);

/** A session the server closed (GOAWAY under load) is replaced; the request that found it closed counts as an error. */
function sessionFor(n: number): ClientHttp2Session | undefined {
  const i = n % sessions.length;
  const s = sessions[i]!;
  if (!s.closed && !s.destroyed) return s;
  sessions[i] = open();
  return undefined;
}

function send(n: number, intended: number): void {
  const session = sessionFor(n);
  if (!session) {
    if (n >= warm) {
      latencies[completed++] = (performance.now() - intended) * 1000;
      errors++;
      firstWrong ??= 'session closed by the server';
    }
    return;
  }
  const req = session.request(HEADERS, { endStream: false });
  const chunks: Buffer[] = [];
  let httpStatus = 0;
  let grpcStatus: string | undefined;
  req.on('response', (h) => {
    httpStatus = Number(h[':status']);
    if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']); // trailers-only answer
  });
  req.on('trailers', (t) => {
    grpcStatus = String(t['grpc-status']);
  });
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('error', () => {});
  req.on('close', () => {
    const latency = (performance.now() - intended) * 1000;
    if (n < warm) return;
    latencies[completed++] = latency;
    if (httpStatus !== 200 || grpcStatus === undefined) {
      errors++;
      firstWrong ??= `http ${httpStatus} grpc-status ${grpcStatus}`;
      return;
    }
    const frame = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const code = statusCode(frame);
    const ok = grpcStatus === '0' && code === args.expect.code && (args.bare || frame.indexOf(reason) >= 0);
    if (ok) correct++;
    else {
      wrong++;
      firstWrong ??= `grpc-status ${grpcStatus} code ${code} reason ${frame.indexOf(reason) >= 0 ? 'found' : 'missing'}`;
    }
  });
  req.end(body);
}

await Promise.all(sessions.map((s) => new Promise<void>((ok, fail) => (s.once('connect', () => ok()), s.once('error', fail)))));

const intervalMs = 1000 / args.rate;
const start = performance.now();
let sent = 0;
const measuredFrom = start + warm * intervalMs;
const hardStop = setTimeout(finish, (args.seconds + (args.warmup ?? 0) + 5) * 1000);

function tick(): void {
  const now = performance.now();
  // Send everything that is due: if the process fell behind, the late ones carry their delay.
  while (sent < total && start + sent * intervalMs <= now) {
    send(sent, start + sent * intervalMs);
    sent++;
  }
  if (sent < total) {
    const next = start + sent * intervalMs - performance.now();
    setTimeout(tick, Math.max(0, Math.floor(next)));
  } else {
    waitDone();
  }
}

function waitDone(): void {
  if (completed >= total - warm) return finish();
  setTimeout(waitDone, 5);
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function finish(): void {
  clearTimeout(hardStop);
  const elapsed = (performance.now() - measuredFrom) / 1000;
  const sorted = latencies.slice(0, completed).sort();
  process.stdout.write(
    `${JSON.stringify({
      offered: args.rate,
      sent: sent - warm,
      completed,
      correct,
      wrong,
      errors,
      firstWrong,
      achieved: completed / elapsed,
      p50: pct(sorted, 50),
      p90: pct(sorted, 90),
      p99: pct(sorted, 99),
      p999: pct(sorted, 99.9),
      max: sorted[sorted.length - 1] ?? NaN,
    })}\n`,
  );
  for (const s of sessions) s.destroy();
  process.exit(0);
}

tick();
