// Fault: one of the two workers of `modelgate serve --workers 2` is SIGKILLed under load.
//
// Load: 16 checks in flight over 4 HTTP/2 connections (4 lanes each; the primary hands
// connections to the workers round-robin, so each worker holds 2), at most 40,000 checks, from
// before the kill until 1.5 s after it; then probes on new connections until the replacement answers. Fault: SIGKILL to the worker serving
// connection 0 (worker pids come from the decision lines, which carry `pid`). What every check got:
// - a check in flight on the killed worker's connections at the kill may fail, and then only with
//   UNAVAILABLE (the connection dropped under it); no other check fails: the lanes on those
//   connections reconnect (the primary hands the new connections to a live worker) and go on;
// - every check on the other worker's connections is answered, through the kill;
// - the primary starts a replacement, which serves checks on new connections (a new pid);
// - every sent check got exactly one answer; afterwards SIGTERM still stops the group with exit 0.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { checkClient, envoyCheckRequest, type CheckClient } from '../../../src/grpc/client.js';
import { freePort, startServe } from '../../helpers/serve-process.js';
import { outcome, sleep, startLoad, tally, waitFor } from '../../helpers/faults/load.js';
import { exited, procs } from '../../helpers/faults/procs.js';

const run = procs();
let dir: string;
let config: string;
const clients: CheckClient[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelgate-fault-worker-'));
  config = join(dir, 'modelgate.yaml');
  writeFileSync(
    config,
    `server: { admin: { enabled: false } }
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://faults/*', roles: [caller] }] }
policy:
  roles: { caller: null }
  rules: [{ id: callers, effect: allow, roles: [caller] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
`,
  );
});
afterAll(async () => {
  for (const c of clients) c.close();
  await run.killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('fault: one worker of --workers 2 killed under load', () => {
  it('keeps answering on the other worker, fails only checks in flight on the dead one, and restarts it', async () => {
    const port = await freePort();
    const serve = await startServe(['--workers', '2', '--config', config, '--address', `127.0.0.1:${port}`], 2);
    run.track(serve.proc);
    const startedAt = performance.now();
    // grpc-js shares one connection between clients of the same target string: four spellings of one
    // address give four connections, as Envoy's worker threads would open.
    for (const target of [`127.0.0.1:${port}`, `ipv4:127.0.0.1:${port}`, `dns:///127.0.0.1:${port}`, `ipv4:///127.0.0.1:${port}`]) {
      clients.push(checkClient(target));
    }
    // One check per connection, one after the other, before the load: the primary hands each new
    // connection to the next free worker, so connections alternate between the two workers.
    for (const c of clients) expect((await c.check(envoyCheckRequest({ principal: 'spiffe://faults/warm' }))).status.code).toBe(0);
    const load = startLoad<null>({
      clients,
      inFlight: 16,
      maxChecks: 40_000,
      maxMs: 30_000,
      next: (index) => ({ tag: null, request: envoyCheckRequest({ principal: `spiffe://faults/caller-${index % 5}` }) }),
    });

    const decisions = () => serve.lines.filter((l) => l.msg === 'decision');
    const pidOf = () => new Map(decisions().map((l) => [String(l.request_id), Number(l.pid)]));
    const workerPids = () => new Set(decisions().map((l) => Number(l.pid)));
    await waitFor(() => load.answered() >= 400 && workerPids().size === 2, 10_000, 'both workers answering');
    for (const pid of workerPids()) run.trackPid(pid, config);
    // A worker that dies within 1 s of its start is restarted only after 1 s (serve.ts): let them age.
    await sleep(Math.max(0, startedAt + 1_200 - performance.now()));

    // Which worker holds each connection: the pid that answered the connection's latest check.
    const connectionPid = (before: number): number[] => {
      const pids = pidOf();
      return clients.map((_, c) => {
        const last = load.answers.filter((r) => r.client === c && r.endMs < before && r.grpcCode === 0).at(-1);
        return pids.get(last?.requestId ?? '') ?? -1;
      });
    };
    await sleep(100); // decision lines of the latest answers reach us through the pipe
    const placement = connectionPid(performance.now() - 100);
    const victim = placement[0]!;
    const survivor = [...workerPids()].find((p) => p !== victim)!;
    expect(placement.filter((p) => p === victim).length, `connections per worker: ${placement}`).toBeGreaterThanOrEqual(1);
    expect(placement.filter((p) => p === survivor).length, `connections per worker: ${placement}`).toBeGreaterThanOrEqual(1);
    const victimClients = new Set(placement.flatMap((p, c) => (p === victim ? [c] : [])));

    const killAt = performance.now();
    const killClock = Date.now();
    process.kill(victim, 'SIGKILL');
    // The load runs on for 1.5 s after the kill: through the dropped connections, the reconnects and
    // the survivor taking every lane. The replacement then starts on a quiet machine.
    await sleep(1_500);
    load.stop();
    const report = await load.done;
    const records = report.records;
    const diedLine = `worker ${victim} died (exit SIGKILL); starting a replacement`;
    await waitFor(() => serve.stderr().includes(diedLine), 5_000, 'the primary to see the death');
    const serving = () => serve.lines.filter((l) => l.msg === 'modelgate serving ext_authz');
    await waitFor(() => serving().length === 3, 20_000, 'the replacement to serve');
    const replacedAfterMs = Date.parse(String(serving()[2]!.time)) - killClock;

    // The replacement gets connections opened from now on: new ones, one at a time, until it answers.
    let replacement: number | undefined;
    for (let probe = 0; probe < 10 && replacement === undefined; probe++) {
      const c = checkClient(`localhost:${port}`);
      const res = await c.check(envoyCheckRequest({ principal: 'spiffe://faults/probe', requestId: `probe-${probe}` }));
      c.close();
      expect(res.status.code).toBe(0);
      await sleep(50);
      const pid = pidOf().get(`probe-${probe}`);
      if (pid !== undefined && pid !== survivor) replacement = pid;
    }
    expect(replacement, 'a new worker pid answered a probe').toBeDefined();
    run.trackPid(replacement!, config);
    expect(replacement).not.toBe(victim);

    // Nothing lost: every sent check got exactly one answer.
    expect(report.lost).toBe(0);
    expect(records).toHaveLength(report.sent);

    const failed = records.filter((r) => r.grpcCode !== 0);
    const show = (r: (typeof records)[number]) =>
      `#${r.index} lane ${r.lane} conn ${r.client} ${outcome(r)} (${r.grpcDetails}) sent ${(r.startMs - killAt).toFixed(1)} ms, ended ${(r.endMs - killAt).toFixed(1)} ms after the kill`;
    // Only checks on the killed worker's connections failed, each with UNAVAILABLE, each sent before
    // the client saw its connection drop (the first failure on it): checks in flight on a dead
    // connection. A process takes a few ms to die, so some were sent just after the kill signal.
    const droppedAt = new Map<number, number>();
    for (const r of failed) droppedAt.set(r.client, Math.min(droppedAt.get(r.client) ?? Infinity, r.endMs));
    const unexpected = failed.filter(
      (r) => !victimClients.has(r.client) || r.grpcCode !== grpc.status.UNAVAILABLE || r.startMs > droppedAt.get(r.client)! || r.endMs < killAt,
    );
    expect(unexpected.map(show)).toEqual([]);
    // At most one per lane on those connections (4 lanes each): a lane's next check reconnects.
    const failuresPerLane = tally(failed, (r) => String(r.lane));
    expect(Object.values(failuresPerLane).every((n) => n === 1), JSON.stringify(failuresPerLane)).toBe(true);
    expect(failed.length).toBeLessThanOrEqual(4 * victimClients.size);
    // Everything else was allowed.
    expect(tally(records.filter((r) => r.grpcCode === 0))).toEqual({ 'allow allowed': records.length - failed.length });

    // The other worker kept answering through the kill, and took the reconnected lanes.
    const pids = pidOf();
    const afterKill = records.filter((r) => r.startMs > killAt && r.grpcCode === 0);
    expect(afterKill.length).toBeGreaterThan(0);
    expect(new Set(afterKill.map((r) => pids.get(r.requestId)).filter((p) => p !== undefined))).toEqual(new Set([survivor]));
    const reconnected = afterKill.filter((r) => victimClients.has(r.client));
    expect(reconnected.length).toBeGreaterThan(0);

    console.info(
      `worker fault: ${records.length} checks; connections per worker ${placement.join(',')}; killed ${victim}, ` +
        `${failed.length} checks failed (${4 * victimClients.size} lanes on its connections):\n  ${failed.map(show).join('\n  ')}\n  ` +
        `replacement ${replacement} serving ${replacedAfterMs} ms after the kill (its log line's time); ${afterKill.length} checks answered by ${survivor} after it`,
    );

    // The group still stops cleanly.
    serve.proc.kill('SIGTERM');
    await exited(serve.proc, 10_000);
    expect(serve.proc.exitCode).toBe(0);
  }, 45_000);
});
