// Fault: the audit writer (`modelgate audit serve`, Envoy's AccessLogService into the chain store)
// is SIGKILLed while a batch is being written, restarted, and written to again.
// test/integration/audit/crash.test.ts already kills a bare ChainStore writer 20 times; this test
// kills the real receiver process fed by a real grpc-js AccessLogService client, and accounts for
// every stream and record the way Envoy's logger would see them.
//
// Load: 3 concurrent access-log streams at a time, each 6 messages of 150 entries (900 records,
// every request id unique; paths of ~4 KB, so a batch is one write of megabytes), streams started
// back to back while a writer is up; at most 60 streams per writer.
// Store: batches of up to 5,000 records or 300 ms, segments rotate at 3 MB.
// Fault: SIGKILL timed to land inside a batch write (mid-write-killer.ts); if the process still
// finished that write before dying (no torn line), that kill counts as one at an arbitrary moment
// and the next writer is killed the same way, at most 3 times. Then a last writer repairs the
// store, takes more streams and is stopped with SIGTERM.
// What every stream and record got:
// - every stream got exactly one answer: OK, or UNAVAILABLE when its writer died under it;
// - a stream answered OK has every one of its records in the store, exactly once (the receiver
//   answers only after the records are fsynced); a stream that failed has each record at most once;
// - no record appears twice or was never sent; `seq` runs 1..n without a gap across restarts;
// - the kill that tore the final line: the next start cut it off, logged the documented warning,
//   and put a `recovery` entry in the chain naming the segment, line, cut bytes and their SHA-256;
//   a kill that tore nothing left no recovery entry;
// - `modelgate audit verify --public-key` passes on every segment after the final SIGTERM.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLogServiceClient } from '../../../src/audit/als-protos.js';
import type { SegmentEntry } from '../../../src/audit/chain-entry.js';
import { listSegments } from '../../../src/audit/segment-files.js';
import { loadPublicKey, writeKeyPair } from '../../../src/audit/signing.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';
import { CLI, freePort } from '../../helpers/serve-process.js';
import { waitFor } from '../../helpers/faults/load.js';
import { killDuringWrite } from '../../helpers/faults/mid-write-killer.js';
import { exited, procs } from '../../helpers/faults/procs.js';

const HASH_KEY = 'fault-test-only-hash-key-0123456789';
const MESSAGES = 6;
const ENTRIES = 150;
const CONCURRENT = 3;
const LONG_PATH = 'p'.repeat(4_000);
const MAX_KILLS = 3;
const RECOVERY_LOG = 'audit store: cut off a torn final line left by a crash; recorded in the chain';

const run = procs();
let root: string;
let storeDir: string;
let configFile: string;
let publicKeyFile: string;
let port: number;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'modelgate-fault-audit-'));
  storeDir = join(root, 'store');
  publicKeyFile = join(root, 'audit.pub');
  await writeKeyPair(join(root, 'audit.key'), publicKeyFile);
  port = await freePort();
  configFile = join(root, 'modelgate.yaml');
  writeFileSync(
    configFile,
    `audit:
  store: { dir: '${storeDir}', signing_key_file: '${join(root, 'audit.key')}', segment_max_bytes: 3000000, batch_max_records: 5000, batch_max_delay: 300ms }
  receiver: { listen: '127.0.0.1:${port}', max_entries_per_second: 1000000 }
`,
  );
});
afterAll(async () => {
  await run.killAll();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Writer {
  readonly proc: ChildProcess;
  readonly stderr: () => string;
}

/** `modelgate audit serve`, resolved once it printed its port. */
async function startWriter(): Promise<Writer> {
  const proc = spawn(process.execPath, [...CLI, 'audit', 'serve', '--config', configFile], {
    env: { ...process.env, MODELGATE_AUDIT_HASH_KEY: HASH_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  run.track(proc);
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`listening on port ${port}\n`)) resolve();
    });
    proc.once('exit', (code, signal) => reject(new Error(`audit serve exited ${code ?? signal}: ${err}`)));
  });
  return { proc, stderr: () => err };
}

function entry(requestId: string, n: number): Record<string, unknown> {
  return {
    common_properties: {
      start_time: { seconds: String(1_767_225_600 + n), nanos: 0 },
      duration: { seconds: '0', nanos: 12_500_000 },
      downstream_remote_address: { socket_address: { address: '10.1.2.3', port_value: 40000 } },
      metadata: {
        filter_metadata: {
          'envoy.filters.http.ext_authz': jsonToStruct({ request_id: requestId, decision: 'allow', reason: 'allowed', subject: `svc:caller-${n % 5}` }),
        },
      },
    },
    protocol_version: 'HTTP2',
    request: { request_method: 'POST', authority: 'models', path: `/v1/models/m:predict/${LONG_PATH}`, request_id: requestId },
    response: { response_code: { value: 200 }, response_body_bytes: '12' },
  };
}

interface StreamResult {
  readonly name: string;
  readonly ids: readonly string[];
  /** 0 when the receiver answered OK. */
  readonly code: number;
  readonly details: string;
}

type AlsClient = grpc.Client & {
  StreamAccessLogs(cb: (error: grpc.ServiceError | null) => void): { write(m: unknown): boolean; end(): void };
};

/** Streams back to back, `CONCURRENT` at a time, until stopped; every stream ends as one result. */
function streamLoad(phase: string) {
  const client = new (accessLogServiceClient())(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as AlsClient;
  const results: StreamResult[] = [];
  let stopped = false;
  let next = 0;
  const one = (name: string): Promise<StreamResult> => {
    const ids: string[] = [];
    return new Promise<StreamResult>((resolve) => {
      const settle = (code: number, details: string) => {
        clearTimeout(watchdog);
        resolve({ name, ids, code, details });
      };
      // Bounded: a stream that got no answer at all within 10 s is recorded as lost (-1).
      const watchdog = setTimeout(() => settle(-1, 'lost: no answer'), 10_000);
      const call = client.StreamAccessLogs((error) => settle(error?.code ?? 0, error?.details ?? ''));
      for (let m = 0; m < MESSAGES; m++) {
        const entries = Array.from({ length: ENTRIES }, (_, e) => {
          const id = `${name}-m${m}-e${e}`;
          ids.push(id);
          return entry(id, m * ENTRIES + e);
        });
        call.write({ ...(m === 0 ? { identifier: { node: { id: 'envoy-edge-1', cluster: 'edge' }, log_name: phase } } : {}), http_logs: { log_entry: entries } });
      }
      call.end();
    });
  };
  const lane = async () => {
    while (!stopped && next < 60) {
      const result = await one(`${phase}-s${next++}`);
      results.push(result);
    }
  };
  const done = Promise.all(Array.from({ length: CONCURRENT }, lane)).then(() => {
    client.close();
    return { results, sent: next };
  });
  return {
    acked: () => results.filter((r) => r.code === 0).length,
    stop: () => void (stopped = true),
    done,
  };
}

function recoveryWarning(writer: Writer): Record<string, unknown> | undefined {
  return writer
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === RECOVERY_LOG);
}

async function storeEntries(): Promise<SegmentEntry[]> {
  const out: SegmentEntry[] = [];
  for (const s of await listSegments(storeDir)) {
    for (const line of readFileSync(s.path, 'utf8').split('\n')) if (line.endsWith('}')) out.push(JSON.parse(line) as SegmentEntry);
  }
  return out;
}

describe('fault: the audit writer killed mid-batch', () => {
  it('keeps every acknowledged record, repairs the torn line on the record, and verifies on every segment', async () => {
    const publicKey = await loadPublicKey(publicKeyFile);
    if (!publicKey.ok) throw new Error(publicKey.error);
    const streams: StreamResult[] = [];
    let sentStreams = 0;

    // Writers killed inside a batch write, until one kill tore the final line (at most MAX_KILLS).
    const kills: Array<{ writer: string; torn: number; expectedRecovery?: Record<string, unknown>; grew: string }> = [];
    for (let n = 1; n <= MAX_KILLS && !kills.some((k) => k.torn > 0); n++) {
      const writer = await startWriter();
      // The previous kill tore nothing: nothing to repair, nothing on the record.
      expect(recoveryWarning(writer)).toBeUndefined();
      const load = streamLoad(`w${n}`);
      await waitFor(() => load.acked() >= 1, 20_000, `a stream acknowledged by writer ${n}`);
      const kill = await killDuringWrite({ dir: storeDir, pid: writer.proc.pid!, maxMs: 5_000 });
      if (!kill.killed) writer.proc.kill('SIGKILL'); // no batch write seen: an arbitrary moment then
      load.stop();
      await exited(writer.proc);
      expect(writer.proc.signalCode).toBe('SIGKILL');
      const result = await load.done;
      streams.push(...result.results);
      sentStreams += result.sent;

      // What the kill left: at most a torn final line in the newest segment, nothing else wrong.
      const last = (await listSegments(storeDir)).at(-1)!;
      const bytes = readFileSync(last.path);
      const goodBytes = bytes.lastIndexOf(0x0a) + 1;
      const torn = bytes.subarray(goodBytes);
      const report = await verifyStore(storeDir, { publicKey: publicKey.key });
      expect(report.issues.map((i) => `${i.kind} ${i.segment}`)).toEqual(torn.length > 0 ? [`torn ${last.name}`] : []);
      const grew = kill.killed ? `${kill.segment} grew ${kill.sizeBefore} → ${kill.sizeAtKill} B at the kill` : 'no write seen';
      kills.push({
        writer: `w${n}`,
        torn: torn.length,
        grew,
        expectedRecovery: torn.length > 0
          ? {
              type: 'recovery',
              segment: last.name,
              line: bytes.subarray(0, goodBytes).toString('utf8').split('\n').length,
              cut_bytes: torn.length,
              cut_sha256: createHash('sha256').update(torn).digest('hex'),
            }
          : undefined,
      });
    }
    const tornKill = kills.find((k) => k.torn > 0);
    expect(tornKill, `no kill tore a line: ${JSON.stringify(kills)}`).toBeDefined();

    // The last writer repairs the store on the record, takes more streams, and is stopped cleanly.
    const final = await startWriter();
    await waitFor(() => recoveryWarning(final) !== undefined, 5_000, 'the recovery warning on stderr');
    expect(recoveryWarning(final)).toMatchObject(tornKill!.expectedRecovery!);
    const finalLoad = streamLoad('final');
    await waitFor(() => finalLoad.acked() >= 3, 20_000, 'three streams acknowledged by the last writer');
    finalLoad.stop();
    const finalResult = await finalLoad.done;
    streams.push(...finalResult.results);
    sentStreams += finalResult.sent;
    final.proc.kill('SIGTERM');
    await exited(final.proc, 10_000);
    expect(final.proc.exitCode).toBe(0);

    // Every stream got exactly one answer; only streams open when a writer died failed.
    expect(streams).toHaveLength(sentStreams);
    expect(streams.filter((s) => s.code === -1).map((s) => s.name)).toEqual([]);
    expect(finalResult.results.filter((s) => s.code !== 0).map((s) => `${s.name}: ${s.code} ${s.details}`)).toEqual([]);
    const failedStreams = streams.filter((s) => s.code !== 0);
    expect(new Set(failedStreams.map((s) => s.code))).toEqual(new Set(failedStreams.length ? [grpc.status.UNAVAILABLE] : []));

    // Records: acknowledged ones all there once; none twice; none that was never sent.
    const all = await storeEntries();
    const chained = all.filter((e) => e.type !== 'checkpoint');
    expect(chained.map((e) => e.seq)).toEqual(chained.map((_, i) => i + 1));
    const stored = chained.flatMap((e) => (e.type === 'record' ? [e.record.request_id] : []));
    const counts = new Map<string, number>();
    for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    const sentIds = new Set(streams.flatMap((s) => s.ids));
    expect(stored.filter((id) => !sentIds.has(id))).toEqual([]);
    const acked = streams.filter((s) => s.code === 0);
    const missingAcked = acked.flatMap((s) => s.ids.filter((id) => !counts.has(id)));
    expect(missingAcked).toEqual([]);
    const keptOfFailed = failedStreams.map((s) => s.ids.filter((id) => counts.has(id)).length);

    // The torn line's cut is on the record exactly as the kill left it, and only that one.
    expect(chained.filter((e) => e.type === 'recovery')).toEqual([expect.objectContaining(tornKill!.expectedRecovery!)]);

    // `modelgate audit verify` passes on every segment, signatures included.
    const segments = await listSegments(storeDir);
    expect(segments.length).toBeGreaterThan(1);
    const verify = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, [...CLI, 'audit', 'verify', storeDir, '--public-key', publicKeyFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      run.track(p);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.once('exit', (code) => resolve({ code, out }));
    });
    expect(verify.out).toBe(
      `OK: ${segments.length} segments, ${chained.length} chained entries, ${all.length - chained.length} checkpoints; signatures verified\n`,
    );
    expect(verify.code).toBe(0);

    console.info(
      `audit fault: ${streams.length} streams (${acked.length} acknowledged, ${failedStreams.length} failed: ` +
        `${failedStreams.map((s, i) => `${s.name} kept ${keptOfFailed[i]}/${s.ids.length}`).join(', ')}); ` +
        `${stored.length} records in ${segments.length} segments; kills: ` +
        kills.map((k) => `${k.writer}: ${k.grew}, torn tail ${k.torn} B`).join('; '),
    );
  }, 60_000);
});
