// What the Redis fault tests share: a `modelgate serve` process whose limits fail open for some
// subjects and fail closed for others, a load driven through a Redis outage, and how to read what
// each check got (Redis's answer or its bucket's on_redis_error) and how long modelgate took for it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expect } from 'vitest';
import { checkClient, envoyCheckRequest, type CheckClient } from '../../../src/grpc/client.js';
import { startServe, type ServeProcess } from '../serve-process.js';
import { outcome, sleep, startLoad, tally, waitFor, type CheckRecord, type LoadReport, type PlannedCheck } from './load.js';
import type { Procs } from './procs.js';

export type FailMode = 'fail_open' | 'fail_closed';

/** What a check got: Redis answered (`redis`), its bucket's fail mode, or anything else (a bug). */
export type Answer = 'redis' | FailMode | string;

/** Subjects `spiffe://faults/open-*` are charged to a fail_open bucket, `closed-*` to a fail_closed one. */
export const subjectFor = (mode: FailMode, n: number | string): string => `spiffe://faults/${mode === 'fail_open' ? 'open' : 'closed'}-${n}`;

export function limitsConfig(redisUrl: string): string {
  // Buckets far larger than the load: every normal answer is an allow that Redis counted.
  return `server: { admin: { enabled: false } }
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://faults/*', roles: [caller] }] }
policy:
  roles: { caller: null }
  rules: [{ id: callers, effect: allow, roles: [caller] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
limits:
  redis: { url: '${redisUrl}' }
  buckets:
    - { id: closed, match: { subjects: ['mtls:${subjectFor('fail_closed', '*')}'] }, rate: 1000000, burst: 1000000, on_redis_error: fail_closed }
    - { id: open, match: { subjects: ['mtls:${subjectFor('fail_open', '*')}'] }, rate: 1000000, burst: 1000000, on_redis_error: fail_open }
`;
}

export interface LimitedGate {
  readonly serve: ServeProcess;
  /** Two HTTP/2 connections, as two Envoy worker threads would open. */
  readonly clients: readonly CheckClient[];
  close(): void;
}

/** `modelgate serve --workers 1` on a free port with `limitsConfig(redisUrl)`; tracked by `run`. */
export async function startLimitedGate(redisUrl: string, run: Procs): Promise<LimitedGate> {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-fault-redis-'));
  writeFileSync(join(dir, 'modelgate.yaml'), limitsConfig(redisUrl));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let serve: ServeProcess;
  try {
    serve = await startServe(['--workers', '1', '--config', join(dir, 'modelgate.yaml'), '--address', '127.0.0.1:0']);
  } catch (error) {
    removeDir();
    throw error;
  }
  run.track(serve.proc);
  // grpc-js shares one connection between clients of the same target string.
  const clients = [checkClient(`127.0.0.1:${serve.port}`), checkClient(`ipv4:127.0.0.1:${serve.port}`)];
  return {
    serve,
    clients,
    close: () => {
      for (const c of clients) c.close();
      removeDir();
    },
  };
}

export interface Tag {
  readonly subject: string;
  readonly mode: FailMode;
}

/** A check for `subject`, shaped as Envoy sends it. */
export function checkFor(subject: string, mode: FailMode): PlannedCheck<Tag> {
  return { tag: { subject, mode }, request: envoyCheckRequest({ principal: subject }) };
}

export function answerOf(r: CheckRecord<unknown>): Answer {
  const m = r.metadata ?? {};
  if (r.grpcCode === 0 && r.decision === 'allow' && r.reason === 'allowed' && m.ratelimit_bucket !== undefined) {
    return m.ratelimit_fallback === undefined ? 'redis' : m.ratelimit_fallback === 'local' ? 'fail_open' : outcome(r);
  }
  if (r.grpcCode === 0 && r.decision === 'deny' && r.reason === 'limiter_unavailable') return 'fail_closed';
  return outcome(r);
}

/** `fail_closed: fail_closed (timeout)`: the bucket's mode, the answer, and the error class of a 503. */
export const label = (r: CheckRecord<Tag>): string =>
  `${r.tag.mode}: ${answerOf(r)}${r.metadata?.ratelimit_error === undefined ? '' : ` (${String(r.metadata.ratelimit_error)})`}`;

export const show = (r: CheckRecord<Tag>, t0: number): string =>
  `#${r.index} ${r.tag.subject} ${label(r)} sent ${(r.startMs - t0).toFixed(1)} ms, answered ${(r.endMs - t0).toFixed(1)} ms`;

/** Waits (bounded) for the decision line of every record; modelgate's own latency of each, in ms. */
export async function gateLatencies<T>(serve: ServeProcess, records: readonly CheckRecord<T>[]): Promise<Map<CheckRecord<T>, number>> {
  const byId = new Map<string, number>();
  const read = () => {
    for (const l of serve.lines) if (l.msg === 'decision' && !byId.has(String(l.request_id))) byId.set(String(l.request_id), Number(l.latency_us) / 1000);
    return records.every((r) => byId.has(r.requestId));
  };
  await waitFor(read, 5_000, 'a decision line for every check');
  return new Map(records.map((r) => [r, byId.get(r.requestId)!]));
}

/** The circuit's changes as the process logged them, each with its cause and time after `t0`. */
export const circuitLog = (serve: ServeProcess, t0: number): string =>
  serve.lines
    .filter((l) => l.circuit !== undefined)
    .map((l) => `${String(l.circuit)} at ${(Date.parse(String(l.time)) - performance.timeOrigin - t0).toFixed(0)} ms (${String(l.cause)})`)
    .join(' → ') || 'no change';

/** `p50/p99/max` in ms. */
export function spread(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return '-';
  return [0.5, 0.99].map((p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!.toFixed(1)).concat(sorted.at(-1)!.toFixed(1)).join('/');
}

export interface Fault {
  /** Takes Redis down; resolves once it certainly is (the signal delivered, the process gone). */
  down(): void | Promise<void>;
  /** Brings Redis back; resolves once it can answer. */
  up(): void | Promise<void>;
  readonly downMs: number;
}

export interface OutageRun {
  readonly report: LoadReport<Tag>;
  readonly records: readonly CheckRecord<Tag>[];
  /** Answers to the 400 warm-up checks before the load: all must be Redis's. */
  readonly warm: Record<string, number>;
  readonly gateMs: Map<CheckRecord<Tag>, number>;
  /** performance.now() when the load began; every other time here is on the same clock. */
  readonly t0: number;
  /** Before `down()`, after it, before `up()`, after it. */
  readonly faultAt: number;
  readonly downAt: number;
  readonly upAt: number;
  readonly backAt: number;
  /** Answered before the fault: Redis must have answered each. */
  readonly before: CheckRecord<Tag>[];
  /** Sent once Redis was down and answered before `up()` began: each must get its fail mode. */
  readonly during: CheckRecord<Tag>[];
  /** Sent before Redis was down and answered after the fault began. */
  readonly inFlight: CheckRecord<Tag>[];
  /** The first check sent after `up()` began that Redis answered, and every check sent after its answer. */
  readonly firstNormal: CheckRecord<Tag> | undefined;
  readonly after: CheckRecord<Tag>[];
}

/**
 * Load: 8 checks in flight over the gate's 2 connections, closed loop, round-robin over 4
 * fail_closed and 4 fail_open subjects, at most 60,000 checks in 8 s: ~1 s before the fault, the
 * outage, 1.5 s after Redis is back.
 */
export async function loadThroughOutage({ serve, clients }: LimitedGate, fault: Fault): Promise<OutageRun> {
  const plan = (index: number) => {
    const mode: FailMode = index % 2 === 0 ? 'fail_closed' : 'fail_open';
    return checkFor(subjectFor(mode, (index >> 1) % 4), mode);
  };
  const warm = tally((await startLoad<Tag>({ clients, inFlight: 8, maxChecks: 400, maxMs: 5_000, next: plan }).done).records, answerOf);
  const load = startLoad<Tag>({ clients, inFlight: 8, maxChecks: 60_000, maxMs: 8_000, next: plan });
  const t0 = performance.now();
  await waitFor(() => load.answered() >= 300, 5_000, '300 checks before the fault');
  await sleep(200);
  const faultAt = performance.now();
  await fault.down();
  const downAt = performance.now();
  await sleep(fault.downMs);
  const upAt = performance.now();
  await fault.up();
  const backAt = performance.now();
  await sleep(1_500);
  load.stop();
  const report = await load.done;
  const records = report.records;
  const firstNormal = records.filter((r) => r.startMs >= upAt && answerOf(r) === 'redis').sort((a, b) => a.endMs - b.endMs)[0];
  return {
    report, records, warm, gateMs: await gateLatencies(serve, records), t0, faultAt, downAt, upAt, backAt,
    before: records.filter((r) => r.endMs < faultAt),
    during: records.filter((r) => r.startMs >= downAt && r.endMs < upAt),
    inFlight: records.filter((r) => r.startMs < downAt && r.endMs >= faultAt),
    firstNormal,
    after: firstNormal === undefined ? [] : records.filter((r) => r.startMs > firstNormal.endMs),
  };
}

/** What every check of an outage run got, and how fast, for the test's output. */
export function describeOutage(run: OutageRun, serve: ServeProcess): string {
  const gate = (rs: readonly CheckRecord<Tag>[]) => spread(rs.map((r) => run.gateMs.get(r)!));
  const client = (rs: readonly CheckRecord<Tag>[]) => spread(rs.map((r) => r.latencyMs));
  const at = (t: number) => (t - run.t0).toFixed(0);
  return (
    `${run.records.length} checks in ${run.report.elapsedMs.toFixed(0)} ms; down ${at(run.faultAt)}-${at(run.downAt)} ms, up ${at(run.upAt)}-${at(run.backAt)} ms\n` +
    `  all: ${JSON.stringify(tally(run.records, label))}\n` +
    `  latency p50/p99/max: modelgate ${gate(run.records)} ms, client ${client(run.records)} ms\n` +
    `  before: ${run.before.length}, modelgate ${gate(run.before)} ms, client ${client(run.before)} ms\n` +
    `  in flight at the fault: ${run.inFlight.length} ${JSON.stringify(tally(run.inFlight, answerOf))}, modelgate ${gate(run.inFlight)} ms, client ${client(run.inFlight)} ms\n` +
    `  down: ${run.during.length} ${JSON.stringify(tally(run.during, answerOf))}, modelgate ${gate(run.during)} ms, client ${client(run.during)} ms\n` +
    `  back: first normal answer ${run.firstNormal ? (run.firstNormal.endMs - run.backAt).toFixed(0) : '-'} ms after Redis could answer; ` +
    `${run.after.length} checks after it ${JSON.stringify(tally(run.after, answerOf))}\n` +
    `  circuit: ${circuitLog(serve, run.t0)}`
  );
}

/** Envoy's default ext_authz timeout: no check may take longer by modelgate's own clock. */
export const BUDGET_MS = 200;
/** Redis must be answering again within this long after the fault is undone. */
export const RECOVERY_MS = 1_000;

/**
 * What every Redis outage must show: nothing lost, Redis's answer before the fault, each bucket's own
 * fail mode during it (within `failFastMs` when given), everything within Envoy's budget, and Redis's
 * answers again within RECOVERY_MS of `back` and for everything after.
 */
export function expectOutageAnswered(out: OutageRun, o: { back: string; failFastMs?: number }): void {
  const shown = (rs: typeof out.records) => rs.map((r) => `${show(r, out.t0)}, modelgate ${out.gateMs.get(r)!.toFixed(1)} ms`);
  expect(out.warm).toEqual({ redis: 400 });
  expect.soft(out.report.lost).toBe(0);
  expect.soft(out.records).toHaveLength(out.report.sent);
  expect.soft(shown(out.records.filter((r) => ![r.tag.mode, 'redis'].includes(answerOf(r))))).toEqual([]);
  expect.soft(out.before.length).toBeGreaterThan(300);
  expect.soft(shown(out.before.filter((r) => answerOf(r) !== 'redis'))).toEqual([]);
  expect.soft(out.during.length).toBeGreaterThan(100);
  expect.soft(new Set(out.during.map((r) => r.tag.mode))).toEqual(new Set(['fail_open', 'fail_closed']));
  expect.soft(shown(out.during.filter((r) => answerOf(r) !== r.tag.mode))).toEqual([]);
  if (o.failFastMs !== undefined) expect.soft(shown(out.during.filter((r) => out.gateMs.get(r)! >= o.failFastMs!))).toEqual([]);
  expect.soft(shown(out.records.filter((r) => out.gateMs.get(r)! >= BUDGET_MS))).toEqual([]);
  expect.soft(out.firstNormal, `a check answered by Redis after ${o.back}`).toBeDefined();
  expect.soft((out.firstNormal?.endMs ?? Infinity) - out.backAt).toBeLessThan(RECOVERY_MS);
  expect.soft(out.after.length).toBeGreaterThan(100);
  expect.soft(shown(out.after.filter((r) => answerOf(r) !== 'redis'))).toEqual([]);
}
