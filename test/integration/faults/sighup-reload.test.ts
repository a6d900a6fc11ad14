// Fault: the policy is swapped by SIGHUP again and again, and once replaced by invalid YAML, while a
// real `modelgate serve --workers 1` process answers a closed-loop load of real gRPC checks.
//
// Load: 4 checks in flight on one connection, alternating model-a and model-b, at most 40,000
// checks, ~3 s. Fault: 16 rewrites of the policy file between two versions, each followed by
// SIGHUP, and one rewrite to invalid YAML (also SIGHUP) held for 400 ms and 20 checks in the middle.
// The two versions differ in every stage a check passes through, so a check that mixed them would
// match neither: v1 maps the caller to role caller_v1, targets action predict-v1, allows model-a
// (rule v1-allow-model-a), denies model-b (v1-deny-model-b) and names the upstream subject header
// x-v1-subject; v2 is the reverse (caller_v2, predict-v2, v2-deny-model-a, v2-allow-model-b,
// x-v2-subject). What every check must get: a CheckResponse (no gRPC error, no internal_error, none
// lost) equal in every field above to exactly one version's answer, and to a version that could be
// in force while the check ran: a version is in force from some moment between its SIGHUP and its
// "config reloaded" line until some moment between the next SIGHUP and the next such line. Checks
// while the invalid file is in place get the version before it.
// The config path is a symlink to a file in another directory, which the file watcher does not
// watch: every reload here is SIGHUP's, and the test counts them.

import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClient, envoyCheckRequest, type CheckClient } from '../../../src/grpc/client.js';
import { startServe, type ServeProcess } from '../../helpers/serve-process.js';
import { outcome, sleep, startLoad, tally, waitFor, type CheckRecord } from '../../helpers/faults/load.js';
import { procs } from '../../helpers/faults/procs.js';

const policy = (v: 1 | 2) => `server: { admin: { enabled: false } }
identity:
  order: [mtls]
  mtls: { sources: [principal], workloads: [{ pattern: 'spiffe://faults/*', roles: [caller_v${v}] }] }
answer:
  upstream_headers: { subject: x-v${v}-subject }
policy:
  roles: { caller_v${v}: null }
  rules:
    - { id: v${v}-${v === 1 ? 'allow' : 'deny'}-model-a, effect: ${v === 1 ? 'allow' : 'deny'}, roles: [caller_v${v}], models: [model-a], actions: [predict-v${v}] }
    - { id: v${v}-${v === 1 ? 'deny' : 'allow'}-model-b, effect: ${v === 1 ? 'deny' : 'allow'}, roles: [caller_v${v}], models: [model-b], actions: [predict-v${v}] }
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict-v${v} }] }
`;
const INVALID = 'policy:\n  rules: [ { id: broken\n';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

type Model = 'model-a' | 'model-b';

/** Everything a check's answer says that depends on the policy version. */
function signature(r: CheckRecord<Model>): string {
  const headers = (r.response?.ok_response?.headers ?? []).map((h) => h.header.key).filter((k) => /^x-v\d-subject$/.test(k));
  const m = r.metadata ?? {};
  return [r.decision, r.reason, r.ruleId, m.action, m.roles, m.model, headers.join(',') || '-'].join(' ');
}
const expected: Record<1 | 2, Record<Model, string>> = {
  1: {
    'model-a': 'allow allowed v1-allow-model-a predict-v1 caller_v1 model-a x-v1-subject',
    'model-b': 'deny denied_by_rule v1-deny-model-b predict-v1 caller_v1 model-b -',
  },
  2: {
    'model-a': 'deny denied_by_rule v2-deny-model-a predict-v2 caller_v2 model-a -',
    'model-b': 'allow allowed v2-allow-model-b predict-v2 caller_v2 model-b x-v2-subject',
  },
};
const versionOf = (r: CheckRecord<Model>): 1 | 2 | undefined =>
  signature(r) === expected[1][r.tag] ? 1 : signature(r) === expected[2][r.tag] ? 2 : undefined;

interface Swap {
  readonly version: 1 | 2;
  /** performance.now() before the file was rewritten and SIGHUP sent. */
  readonly sentAt: number;
  /** When the test saw the process log "config reloaded" for it. */
  readonly loggedAt: number;
}

const run = procs();
let dir: string;
let client: CheckClient | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelgate-fault-sighup-'));
  mkdirSync(join(dir, 'versions'));
  writeFileSync(join(dir, 'versions', 'live.yaml'), policy(1));
  symlinkSync(join('versions', 'live.yaml'), join(dir, 'modelgate.yaml'));
});
afterAll(async () => {
  client?.close();
  await run.killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Editors and ConfigMaps replace a file by rename: a reload never reads half a file. */
function replaceLive(text: string): void {
  const live = join(dir, 'versions', 'live.yaml');
  writeFileSync(`${live}.tmp`, text);
  renameSync(`${live}.tmp`, live);
}

const count = (serve: ServeProcess, msg: string) => serve.lines.filter((l) => l.msg === msg).length;

describe('fault: SIGHUP reloads under load', () => {
  it('answers every check with exactly one policy version, and keeps the old one through invalid YAML', async () => {
    const serve = await startServe(['--workers', '1', '--config', join(dir, 'modelgate.yaml'), '--address', '127.0.0.1:0']);
    run.track(serve.proc);
    const swaps: Swap[] = [{ version: 1, sentAt: -Infinity, loggedAt: performance.now() }];
    client = checkClient(`127.0.0.1:${serve.port}`);
    const load = startLoad<Model>({
      clients: [client],
      inFlight: 4,
      maxChecks: 40_000,
      maxMs: 20_000,
      next: (index) => {
        const model: Model = index % 2 === 0 ? 'model-a' : 'model-b';
        return { tag: model, request: envoyCheckRequest({ path: `/v1/models/${model}:predict`, principal: `spiffe://faults/caller-${index % 7}` }) };
      },
    });
    await waitFor(() => load.answered() >= 200, 10_000, '200 checks before the first reload');

    const reloadedLines = () => serve.lines.filter((l) => l.msg === 'config reloaded');
    let bad: { loggedAt: number; nextSentAt: number; before: 1 | 2 } | undefined;
    for (let round = 1; round <= 16; round++) {
      if (round === 9) {
        replaceLive(INVALID);
        serve.proc.kill('SIGHUP');
        const loggedAt = await waitFor(() => count(serve, 'config reload failed; previous config keeps serving') === 1, 5_000, 'the failed reload');
        const answered = load.answered();
        await sleep(400);
        await waitFor(() => load.answered() >= answered + 20, 10_000, '20 checks while the invalid file is in place');
        bad = { loggedAt, nextSentAt: performance.now(), before: swaps.at(-1)!.version };
      }
      const version: 1 | 2 = round % 2 === 1 ? 2 : 1;
      const before = reloadedLines().length;
      const sentAt = performance.now();
      replaceLive(policy(version));
      serve.proc.kill('SIGHUP');
      const loggedAt = await waitFor(() => reloadedLines().length === before + 1, 5_000, `reload ${round}`);
      swaps.push({ version, sentAt, loggedAt });
      await sleep(60 + (round % 4) * 20);
    }
    await sleep(200);
    load.stop();
    const report = await load.done;
    const records = report.records;

    // Nothing lost, nothing failed: every sent check got one CheckResponse, none an internal error.
    expect(report.lost).toBe(0);
    expect(records).toHaveLength(report.sent);
    expect(records.filter((r) => r.grpcCode !== 0 || r.reason === 'internal_error').map(outcome)).toEqual([]);

    // Every check is exactly one version's answer: no mix of old and new stages.
    const mixed = records.filter((r) => versionOf(r) === undefined);
    expect(mixed.map((r) => `#${r.index} ${r.tag}: ${signature(r)}`)).toEqual([]);

    // And a version that could be in force while it ran.
    const possible = (r: CheckRecord<Model>): Array<1 | 2> =>
      swaps.filter((s, i) => s.sentAt <= r.endMs && (i === swaps.length - 1 || r.startMs < swaps[i + 1]!.loggedAt)).map((s) => s.version);
    const misplaced = records.filter((r) => !possible(r).includes(versionOf(r)!));
    expect(misplaced.map((r) => `#${r.index} got v${versionOf(r)}, possible ${possible(r).join('/')}`)).toEqual([]);
    const pinned = records.filter((r) => new Set(possible(r)).size === 1).length;

    // Every reload was SIGHUP's, in order: 16 good ones with the written file's hash, one failure.
    expect(reloadedLines().map((l) => l.sha256)).toEqual(swaps.slice(1).map((s) => sha(policy(s.version))));
    expect(count(serve, 'config reload failed; previous config keeps serving')).toBe(1);
    expect(count(serve, 'config files changed; reloading')).toBe(0);

    // While the invalid file was in place, the version before it answered every check.
    const duringBad = records.filter((r) => r.startMs >= bad!.loggedAt && r.endMs <= bad!.nextSentAt);
    expect(duringBad.length).toBeGreaterThan(0);
    expect(new Set(duringBad.map(versionOf))).toEqual(new Set([bad!.before]));

    const byVersion = tally(records, (r) => `v${versionOf(r)} ${r.tag}: ${outcome(r)} (${r.ruleId})`);
    console.info(
      `sighup fault: ${records.length} checks in ${Math.round(report.elapsedMs)} ms over ${swaps.length - 1} reloads + 1 failed; ` +
        `${pinned} checks ran wholly inside one version's window; ${duringBad.length} during the invalid file\n` +
        Object.entries(byVersion).map(([k, n]) => `  ${k} × ${n}`).join('\n'),
    );
    expect(pinned).toBeGreaterThan(records.length / 2);
    expect(Object.keys(byVersion)).toHaveLength(4);
  }, 40_000);
});
