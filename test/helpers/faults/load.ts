// A bounded, closed-loop Check load for the fault tests: K lanes, each with one check in flight at a
// time, over real gRPC clients, until N checks were sent, the time is up, or the test stops it.
// Every sent check ends as exactly one record (its gRPC code, decision, reason, rule, latency), so a
// test can say what every check got and that none was lost.

import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { CheckClient } from '../../../src/grpc/client.js';
import type { PbCheckRequest, PbCheckResponse } from '../../../src/grpc/envoy-types.js';
import { structToJson } from '../../../src/grpc/struct.js';

export interface PlannedCheck<T> {
  readonly request: PbCheckRequest;
  /** What the test needs to judge the answer (which token, which model, …). */
  readonly tag: T;
}

export interface LoadOptions<T> {
  /** Lane j sends on clients[j % clients.length]; one grpc-js client is one HTTP/2 connection. */
  readonly clients: readonly CheckClient[];
  /** K: checks in flight at once (one per lane). */
  readonly inFlight: number;
  /** N: at most this many checks are sent. */
  readonly maxChecks: number;
  /** No check is sent after this many ms. */
  readonly maxMs: number;
  /** Builds check `index` (may be async: signing a fresh token); called just before it is sent. */
  readonly next: (index: number, lane: number) => PlannedCheck<T> | Promise<PlannedCheck<T>>;
  /** Per-call gRPC deadline; Envoy's own ext_authz timeout is far shorter. Default 2000 ms. */
  readonly deadlineMs?: number;
}

export interface CheckRecord<T> {
  readonly index: number;
  readonly lane: number;
  readonly client: number;
  readonly tag: T;
  readonly requestId: string;
  /** performance.now() when the call was made and when its answer arrived. */
  readonly startMs: number;
  readonly endMs: number;
  readonly latencyMs: number;
  /** The call's gRPC status: 0 when a CheckResponse came back, else the transport error's code. */
  readonly grpcCode: number;
  readonly grpcDetails?: string;
  readonly decision?: 'allow' | 'deny';
  /** CheckResponse.status.code (the gRPC code Envoy reads as allow / deny). */
  readonly statusCode?: number;
  readonly reason?: string;
  readonly ruleId?: string;
  readonly metadata?: Record<string, unknown>;
  readonly response?: PbCheckResponse;
}

export interface LoadReport<T> {
  /** One record per sent check, in send order. */
  readonly records: readonly CheckRecord<T>[];
  readonly sent: number;
  /** Checks that never settled (nothing came back, not even the deadline's error). Must be 0. */
  readonly lost: number;
  readonly elapsedMs: number;
  readonly stoppedBy: 'count' | 'time' | 'stop';
}

export interface RunningLoad<T> {
  sent(): number;
  answered(): number;
  /** Records answered so far (in answer order). */
  readonly answers: readonly CheckRecord<T>[];
  /** Send nothing more; the checks in flight finish. */
  stop(): void;
  readonly done: Promise<LoadReport<T>>;
}

export function startLoad<T>(options: LoadOptions<T>): RunningLoad<T> {
  const deadlineMs = options.deadlineMs ?? 2_000;
  const begin = performance.now();
  const records: Array<CheckRecord<T> | undefined> = [];
  const answers: CheckRecord<T>[] = [];
  let nextIndex = 0;
  let stopped = false;
  let stoppedBy: LoadReport<T>['stoppedBy'] = 'count';
  let lost = 0;

  const claim = (): number | undefined => {
    if (stopped) return undefined;
    if (performance.now() - begin >= options.maxMs) {
      stoppedBy = 'time';
      return undefined;
    }
    if (nextIndex >= options.maxChecks) return undefined;
    return nextIndex++;
  };

  const lane = async (laneNo: number): Promise<void> => {
    const clientNo = laneNo % options.clients.length;
    const client = options.clients[clientNo]!;
    for (let index = claim(); index !== undefined; index = claim()) {
      const planned = await options.next(index, laneNo);
      const headers = planned.request.attributes?.request?.http?.headers ?? {};
      const requestId = headers['x-request-id'] ?? '';
      const startMs = performance.now();
      let record: CheckRecord<T>;
      try {
        const response = await answerOrLost(client.check(planned.request, deadlineMs), deadlineMs + LOST_AFTER_MS);
        const endMs = performance.now();
        const metadata = structToJson(response.dynamic_metadata);
        record = {
          index, lane: laneNo, client: clientNo, tag: planned.tag, requestId, startMs, endMs, latencyMs: endMs - startMs,
          grpcCode: 0,
          decision: response.status.code === 0 ? 'allow' : 'deny',
          statusCode: response.status.code,
          reason: typeof metadata.reason === 'string' ? metadata.reason : undefined,
          ruleId: typeof metadata.rule_id === 'string' ? metadata.rule_id : undefined,
          metadata,
          response,
        };
      } catch (error) {
        const endMs = performance.now();
        const e = error as Partial<grpc.ServiceError>;
        record = {
          index, lane: laneNo, client: clientNo, tag: planned.tag, requestId, startMs, endMs, latencyMs: endMs - startMs,
          grpcCode: typeof e.code === 'number' ? e.code : grpc.status.UNKNOWN,
          grpcDetails: e.details ?? String(error),
        };
      }
      // One answer per check: a promise settles once, and the watchdog turns silence into LOST.
      records[index] = record;
      answers.push(record);
      if (record.grpcCode === LOST) lost += 1;
    }
  };

  const lanes = Array.from({ length: options.inFlight }, (_, i) => lane(i));
  const done = Promise.all(lanes).then((): LoadReport<T> => {
    const sent = nextIndex;
    const settled = records.slice(0, sent).filter((r): r is CheckRecord<T> => r !== undefined);
    return { records: settled, sent, lost: lost + sent - settled.length, elapsedMs: performance.now() - begin, stoppedBy };
  });
  return {
    sent: () => nextIndex,
    answered: () => answers.length,
    answers,
    stop: () => {
      if (!stopped) stoppedBy = 'stop';
      stopped = true;
    },
    done,
  };
}

/** grpc-js always settles a call by its deadline; a call still open this long after it is recorded as lost. */
const LOST_AFTER_MS = 1_000;
/** The grpcCode of a lost call (not a gRPC code). */
export const LOST = -1;

function answerOrLost<R>(call: Promise<R>, afterMs: number): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('lost: no answer, not even the deadline'), { code: LOST })), afterMs);
  });
  return Promise.race([call, lost]).finally(() => clearTimeout(timer));
}

const CODE_NAMES = new Map(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));
CODE_NAMES.set(LOST, 'LOST');

/** `allow allowed`, `deny token_key_unknown`, or the transport error (`UNAVAILABLE`): what Envoy would act on. */
export function outcome(r: CheckRecord<unknown>): string {
  if (r.grpcCode !== 0) return CODE_NAMES.get(r.grpcCode) ?? `code ${r.grpcCode}`;
  return `${r.decision} ${r.reason}`;
}

/** Counts records by a key, keys sorted, for one `toEqual` that states what every check got. */
export function tally<T>(records: readonly CheckRecord<T>[], key: (r: CheckRecord<T>) => string = outcome): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

export function maxLatency(records: readonly CheckRecord<unknown>[]): number {
  return records.reduce((m, r) => Math.max(m, r.latencyMs), 0);
}

export function percentile(records: readonly CheckRecord<unknown>[], p: number): number {
  const sorted = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Polls `condition` every 5 ms; throws naming `what` if it does not hold within `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return performance.now();
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
