// Drives real modelgate instances with python_load.py (gRPC C-core, its own process) and decodes
// what each Check got, with client-side send and answer times on the clock of process.hrtime.

import { spawn } from 'node:child_process';
import { envoyCheckRequest, type EnvoyRequestOptions } from '../../src/grpc/client.js';
import { CheckRequestType, decodeCheckResponse } from './envoy-wire.js';

const SCRIPT = 'test/helpers/python_load.py';

export interface LoadOptions {
  readonly addresses: readonly string[];
  /** One CheckRequest per entry; sent once each, or cycled through with `seconds`. */
  readonly requests: readonly EnvoyRequestOptions[];
  readonly inFlight: number;
  /** Keep sending for this long (cycling through `requests`) instead of once each. */
  readonly seconds?: number;
  /** Each slot waits this long after an answer before sending again. */
  readonly gapMs?: number;
}

export interface LoadResult {
  readonly index: number;
  /** Which of `addresses` answered it. */
  readonly target: number;
  /** process.hrtime.bigint() clock, in milliseconds (fractional). */
  readonly sentMs: number;
  readonly answeredMs: number;
  /** The gRPC status of the CheckResponse (0 allows), or -1 when the call itself failed. */
  readonly code: number;
  /** The decision's reason code from the dynamic metadata, or the gRPC error name. */
  readonly reason: string;
  /** Dynamic metadata `ratelimit_fallback` ('local' when a fail_open limit charged a local bucket). */
  readonly fallback: string | undefined;
  readonly subject: string | undefined;
}

export interface LoadRun {
  /** Resolves with every request's result once the client exits. */
  readonly done: Promise<LoadResult[]>;
}

const nsToMs = (ns: string) => Number(BigInt(ns) / 1000n) / 1000;

export function toHex(request: EnvoyRequestOptions): string {
  const type = CheckRequestType();
  return Buffer.from(type.encode(type.fromObject(envoyCheckRequest(request))).finish()).toString('hex');
}

function parse(line: string): LoadResult {
  const [index, target, sent, answered, kind, payload = ''] = line.split(' ') as [string, string, string, string, string, string?];
  const base = { index: Number(index), target: Number(target), sentMs: nsToMs(sent), answeredMs: nsToMs(answered) };
  if (kind !== 'ok') return { ...base, code: -1, reason: payload, fallback: undefined, subject: undefined };
  const response = decodeCheckResponse(Buffer.from(payload, 'hex'));
  const fields = response.dynamic_metadata?.fields ?? {};
  return {
    ...base,
    code: response.status?.code ?? 0,
    reason: fields.reason?.stringValue ?? '',
    fallback: fields.ratelimit_fallback?.stringValue,
    subject: fields.subject?.stringValue,
  };
}

/** Starts the client; resolves once every channel is connected and the first requests are going out. */
export async function startLoad(options: LoadOptions): Promise<LoadRun> {
  const args = [SCRIPT, '--in-flight', String(options.inFlight)];
  if (options.seconds !== undefined) args.push('--seconds', String(options.seconds));
  if (options.gapMs !== undefined) args.push('--gap-ms', String(options.gapMs));
  const child = spawn('/usr/bin/python3', [...args, ...options.addresses], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdin.end(`${options.requests.map(toHex).join('\n')}\n`);
  const deadline = Date.now() + 20_000;
  while (!out.startsWith('start\n')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`python load client did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const done = exited.then((code) => {
    if (code !== 0) throw new Error(`python load client exited ${code}: ${err}`);
    return out.split('\n').slice(1).filter(Boolean).map(parse);
  });
  return { done };
}

/** The client and the test share CLOCK_MONOTONIC: this is "now" on the results' clock. */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;
