// Fuzzes the real AccessLogService receiver over a socket with random and mutated
// StreamAccessLogsMessages, as objects (encoded by proto-loader) and as mutated wire bytes.
// Invariants: the process never crashes, nothing becomes an unhandled rejection, every bad entry is
// a counted `entry_invalid` drop (never a thrown bug), good entries still land, the chain verifies.
// Replay a failure with ALS_FUZZ_SEED=<seed>.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLogServiceDefinition } from '../../../src/audit/als-protos.js';
import { startAccessLogServer, type AccessLogServer, type DropReason } from '../../../src/audit/als-receiver.js';
import { ChainStore } from '../../../src/audit/chain-store.js';
import { receiverMonitor } from '../../../src/audit/receiver-monitor.js';
import { readRecords } from '../../../src/audit/store-scan.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';
import { rng } from '../../helpers/random.js';
import { batches, goodEntry, IDENTIFIER, streamMessages } from '../../helpers/audit/als-client.js';
import { tempStore, testPrivacy, type TempStore } from '../../helpers/audit/fixtures.js';

const SEED = Number(process.env.ALS_FUZZ_SEED ?? 0x5eed13);
const OBJECT_STREAMS = 60;
const BYTE_STREAMS = 60;

type Random = () => number;
const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

const NUMBERS = [0, -1, 1, 0.5, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53, Number.MAX_SAFE_INTEGER, 1e300, -1e300, NaN, Infinity, -Infinity];
const LONGS = ['0', '-1', '9000000000000000', '-9223372036854775808', '9223372036854775807', '18446744073709551615', '253402300800', '-62135596801', '1735689600'];
const STRINGS = ['', 'a', '-', '\u0000', '\r\nx-admin: 1', '\ud800', '\udc00x', 'é', '__proto__', 'constructor', 'toString', '%s%n', '{"decision":"allow"}', 'x'.repeat(70_000)];

function nastyJson(r: Random, depth = 0): unknown {
  const roll = r();
  if (depth > 3 || roll < 0.3) return pick(r, STRINGS);
  if (roll < 0.5) return pick(r, NUMBERS);
  if (roll < 0.6) return r() < 0.5;
  if (roll < 0.65) return null;
  if (roll < 0.8) return Array.from({ length: Math.floor(r() * 4) }, () => nastyJson(r, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) {
    out[pick(r, ['decision', 'subject', 'roles', 'request_id', 'ratelimit_remaining', 'ext_authz_duration', '__proto__', ...STRINGS])] = nastyJson(r, depth + 1);
  }
  return out;
}

/** A struct nested `depth` levels (protobufjs refuses beyond its recursion limit on both ends). */
function deepStruct(depth: number): Record<string, unknown> {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { k: value };
  return value as Record<string, unknown>;
}

const MUTATIONS: Array<(r: Random, e: any) => void> = [
  (r, e) => (e.common_properties.start_time = { seconds: pick(r, LONGS), nanos: pick(r, [0, -1, 999_999_999, 1e9, 2 ** 31 - 1]) }),
  (r, e) => (e.common_properties.duration = { seconds: pick(r, LONGS), nanos: pick(r, [0, -1, 2 ** 31 - 1]) }),
  (r, e) => (e.common_properties.time_to_last_downstream_tx_byte = { seconds: pick(r, LONGS) }),
  (r, e) => (e.common_properties.metadata = { filter_metadata: { 'envoy.filters.http.ext_authz': jsonToStruct(nastyJson(r) as Record<string, unknown> ?? {}) } }),
  (r, e) => (e.common_properties.metadata = { filter_metadata: { 'envoy.filters.http.ext_authz': jsonToStruct({ decision: 'allow', ext_authz_duration: pick(r, NUMBERS), ratelimit_x: pick(r, NUMBERS), roles: nastyJson(r) }) } }),
  (_r, e) => (e.common_properties.metadata = { filter_metadata: { 'envoy.filters.http.ext_authz': jsonToStruct(deepStruct(40)) } }),
  (r, e) => (e.common_properties.downstream_remote_address = { socket_address: { address: pick(r, STRINGS), port_value: pick(r, [0, 65535, 2 ** 32 - 1]) } }),
  (r, e) => (e.common_properties.upstream_remote_address = { socket_address: { address: pick(r, STRINGS), port_value: 1 } }),
  (r, e) => (e.common_properties.tls_properties = { peer_certificate_properties: { subject: pick(r, STRINGS), subject_alt_name: [{ uri: pick(r, STRINGS) }, { dns: pick(r, STRINGS) }] } }),
  (r, e) => (e.common_properties.response_flags = { rate_limited: r() < 0.5, unauthorized_details: { reason: pick(r, ['EXTERNAL_SERVICE', 'REASON_UNSPECIFIED']) } }),
  (r, e) => (e.request = { request_method: pick(r, ['GET', 'METHOD_UNSPECIFIED', 'CONNECT']), path: pick(r, STRINGS), authority: pick(r, STRINGS), request_id: pick(r, STRINGS), request_body_bytes: pick(r, LONGS), request_headers: { [pick(r, STRINGS) || 'k']: pick(r, STRINGS), 'user-agent': pick(r, STRINGS) } }),
  (r, e) => (e.response = { response_code: { value: pick(r, [0, 200, 2 ** 32 - 1]) }, response_code_details: pick(r, STRINGS), response_body_bytes: pick(r, LONGS) }),
  (r, e) => (e.protocol_version = pick(r, ['HTTP10', 'HTTP3', 'PROTOCOL_UNSPECIFIED'])),
  (_r, e) => delete e.common_properties,
  (_r, e) => delete e.request,
];

/** A mutated entry: a good one with one to four fields replaced; its id never starts with `good-`. */
function mutatedEntry(r: Random, n: number): Record<string, unknown> {
  const entry: any = goodEntry(`mutant-${n}`);
  for (let i = 1 + Math.floor(r() * 4); i > 0; i--) {
    entry.common_properties ??= {};
    pick(r, MUTATIONS)(r, entry);
  }
  if (entry.request?.request_id?.startsWith?.('good-')) entry.request.request_id = `mutant-${n}`;
  return entry;
}

/** Mutated wire bytes: flipped bits, truncation, inserted junk, or a duplicated range. */
function mutateBytes(r: Random, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const at = Math.floor(r() * out.length);
  switch (Math.floor(r() * 4)) {
    case 0:
      for (let i = 1 + Math.floor(r() * 8); i > 0; i--) out[Math.floor(r() * out.length)]! ^= 1 << Math.floor(r() * 8);
      return out;
    case 1:
      return out.subarray(0, at);
    case 2:
      return Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256))), out.subarray(at)]);
    default:
      return Buffer.concat([out, out.subarray(at)]);
  }
}

/** Sends raw bytes as the messages of one StreamAccessLogs call (no client-side encoding). */
function streamRawBytes(port: number, messages: readonly Buffer[]): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(
      '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
      (b: Buffer) => b,
      (b: Buffer) => b,
      (error) => {
        client.close();
        resolve(error);
      },
    );
    for (const m of messages) call.write(m);
    call.end();
  });
}

describe(`AccessLogService receiver under fuzzing (seed ${SEED})`, () => {
  let fx: TempStore;
  let store: ChainStore;
  let server: AccessLogServer;
  const drops: DropReason[] = [];
  const warnings: unknown[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    fx = await tempStore();
    store = await ChainStore.open({ dir: fx.dir, signingKey: fx.key, batchMaxDelayMs: 5 });
    const monitor = receiverMonitor({ log: { info: () => undefined, warn: (f) => void warnings.push(f), error: () => undefined } });
    server = await startAccessLogServer({
      listen: '127.0.0.1:0',
      sink: store,
      privacy: testPrivacy({ keep: [{ name: 'user-agent', mode: 'plain' }] }),
      onEvent: (event) => {
        if (event.kind === 'entry_dropped') drops.push(event.reason);
        monitor.onEvent(event);
      },
    });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await fx.cleanup();
  });

  it('never crashes, drops only invalid entries, keeps every good entry, and the chain verifies', async () => {
    const r = rng(SEED);
    const mustLand = new Set<string>();
    const sent = new Set<string>();
    let n = 0;
    const good = () => {
      const id = `good-${n++}`;
      sent.add(id);
      return goodEntry(id, 1_735_689_600 + n);
    };

    // Objects: every message is well-formed protobuf, so every good entry must land.
    const objectStreams = Array.from({ length: OBJECT_STREAMS }, () => {
      const messages = Array.from({ length: 1 + Math.floor(r() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(r() * 6) }, () => (r() < 0.4 ? good() : mutatedEntry(r, n++))),
      );
      for (const m of messages) for (const e of m as any[]) if (e.request?.request_id?.startsWith('good-')) mustLand.add(e.request.request_id);
      return messages;
    });
    for (let i = 0; i < objectStreams.length; i += 6) {
      const results = await Promise.all(objectStreams.slice(i, i + 6).map((m) => streamMessages(server.port, batches(...m))));
      expect(results).toEqual(results.map(() => null));
    }

    // Bytes: a good message, a mutated one, a good one. A mutation grpc-js cannot decode ends the
    // call (INTERNAL, grpc-js's own answer): then only the first message may have landed.
    const serialize = accessLogServiceDefinition().StreamAccessLogs!.requestSerialize;
    const byteOutcomes: Array<{ before: string; after: string; status: grpc.ServiceError | null }> = [];
    for (let i = 0; i < BYTE_STREAMS; i++) {
      const before = good();
      const after = good();
      const victim = serialize({ http_logs: { log_entry: [r() < 0.5 ? goodEntry(`mutant-${n++}`) : mutatedEntry(r, n++)] } });
      const status = await streamRawBytes(server.port, [
        serialize({ identifier: IDENTIFIER, http_logs: { log_entry: [before] } }),
        mutateBytes(r, victim),
        serialize({ http_logs: { log_entry: [after] } }),
      ]);
      byteOutcomes.push({ before: (before.request as any).request_id, after: (after.request as any).request_id, status });
    }

    // Still serving: a fresh stream's entries land.
    const last = [good(), good()];
    for (const e of last) mustLand.add((e.request as any).request_id);
    expect(await streamMessages(server.port, batches(last))).toBeNull();

    await server.close();
    await store.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
    expect(new Set(drops)).toEqual(new Set(drops.length ? ['entry_invalid'] : []));
    expect(drops.length).toBeGreaterThan(0);
    expect(warnings.length).toBeGreaterThan(0);

    const stored: string[] = [];
    for await (const record of readRecords(fx.dir)) stored.push(record.request_id);
    const storedGood = stored.filter((id) => id.startsWith('good-'));
    expect(new Set(storedGood).size).toBe(storedGood.length); // nothing twice
    for (const id of storedGood) expect(sent.has(id)).toBe(true); // nothing invented
    for (const id of mustLand) expect(storedGood).toContain(id);
    for (const o of byteOutcomes) {
      if (o.status === null) expect(storedGood).toEqual(expect.arrayContaining([o.before, o.after]));
      else expect(o.status.code).toBe(grpc.status.INTERNAL);
    }
    const report = await verifyStore(fx.dir, { publicKey: fx.key.publicKey });
    expect(report.issues).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
