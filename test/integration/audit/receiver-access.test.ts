// Issue 13, finding 2: who may write into the audit trail. Real grpc-js clients over sockets against
// the receiver's own listener: `serve` no longer answers AccessLogService on the Check port; an mTLS
// receiver refuses clients without an allowed certificate and names the allowed sender in each
// record; a plaintext receiver beyond loopback is a config error; streams and entry rate are bounded.

import * as grpc from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChainStore } from '../../../src/audit/chain-store.js';
import { parseAuditConfig } from '../../../src/audit/config.js';
import { receiverMonitor } from '../../../src/audit/receiver-monitor.js';
import { startAuditReceiver, type ReceiverConfig } from '../../../src/audit/receiver-server.js';
import type { AccessLogServer } from '../../../src/audit/als-receiver.js';
import type { AuditRecord } from '../../../src/audit/record.js';
import { readRecords } from '../../../src/audit/store-scan.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { loadConfig } from '../../../src/config/load.js';
import { startTestGate } from '../../helpers/gate.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { freePort, startServe } from '../../helpers/serve-process.js';
import { batches, goodEntry, openStream, streamMessages } from '../../helpers/audit/als-client.js';
import { runCli } from '../../helpers/audit/cli.js';
import { serveWithAuditYaml, tempStore, testPrivacy, type TempStore } from '../../helpers/audit/fixtures.js';

const ENVOY_ID = 'spiffe://modelgate.local/ns/edge/sa/envoy';

async function records(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of readRecords(dir)) out.push(r);
  return out;
}

function receiverConfig(receiver: Record<string, unknown>): ReceiverConfig {
  const parsed = parseAuditConfig({ receiver });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.config.receiver;
}

/** A forged entry as the finding describes it: someone else's subject, an allow. */
function forged(requestId: string) {
  return batches([goodEntry(requestId)]).map((m) => JSON.parse(JSON.stringify(m).replace('svc:chatbot', 'ceo@corp')) as unknown);
}

describe('the audit receiver decides who may write into the trail', () => {
  let fx: TempStore;
  let store: ChainStore;
  let server: AccessLogServer | undefined;
  const started = async (receiver: Record<string, unknown>, registry = new Registry(), now?: () => number) => {
    const monitor = receiverMonitor({ log: { info: () => undefined, warn: () => undefined, error: () => undefined }, registry });
    const result = await startAuditReceiver(receiverConfig(receiver), { sink: store, privacy: testPrivacy(), onEvent: monitor.onEvent, ...(now ? { now } : {}) });
    if (!result.ok) throw new Error(result.error);
    server = result.server;
    return { port: result.server.port, monitor, registry };
  };
  beforeEach(async () => {
    fx = await tempStore();
    store = await ChainStore.open({ dir: fx.dir, signingKey: fx.key, batchMaxDelayMs: 5 });
  });
  afterEach(async () => {
    await server?.close(100);
    server = undefined;
    await store.close();
    await fx.cleanup();
  });

  describe('over mTLS', () => {
    let pki: TestPki;
    const tls = () => ({ cert_file: pki.issue('receiver', { dns: ['localhost'], ips: ['127.0.0.1'], server: true }).certFile, key_file: join(pki.dir, 'receiver.key'), client_ca_file: pki.ca.certFile, allowed_sans: [ENVOY_ID] });
    const client = (name: string | undefined, o: { uris?: string[]; dns?: string[] } = {}) => {
      const ca = readFileSync(pki.ca.certFile);
      if (!name) return grpc.credentials.createSsl(ca);
      const leaf = pki.issue(name, o);
      return grpc.credentials.createSsl(ca, Buffer.from(leaf.keyPem), Buffer.from(leaf.certPem));
    };
    /** The receiver's certificate names localhost; the socket is 127.0.0.1 (no IP in the TLS server name). */
    const send = (port: number, messages: unknown[], credentials: grpc.ChannelCredentials) =>
      streamMessages(port, messages, credentials, { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
    beforeAll(() => {
      pki = createTestPki();
    });
    afterAll(() => pki.cleanup());

    it('refuses a client whose certificate identity is not allowed, and writes nothing', async () => {
      const { port, monitor, registry } = await started({ listen: '127.0.0.1:0', tls: tls() });
      // Same CA, a workload the CA vouches for, but not Envoy: PERMISSION_DENIED before any entry is read.
      const error = await send(port, forged('forged-1'), client('intruder', { uris: ['spiffe://modelgate.local/ns/ml/sa/batch-scorer'] }));
      expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
      // The first DNS SAN counts only when there is no URI SAN: an allowed DNS name behind a URI SAN is not enough.
      const sneaky = await send(port, forged('forged-2'), client('sneaky', { uris: ['spiffe://elsewhere/x'], dns: [ENVOY_ID.replace('spiffe://', '')] }));
      expect(sneaky?.code).toBe(grpc.status.PERMISSION_DENIED);
      // No client certificate: the handshake itself fails.
      const anonymous = await send(port, forged('forged-3'), client(undefined));
      expect(anonymous?.code).toBe(grpc.status.UNAVAILABLE);
      expect(await records(fx.dir)).toEqual([]);
      expect(monitor.refused()).toMatchObject({ sender_not_allowed: 2 });
      expect(await registry.metrics()).toContain('modelgate_audit_streams_refused_total{reason="sender_not_allowed"} 2');
    });

    it('stores what an allowed sender streams, each record naming the authenticated sender', async () => {
      const { port } = await started({ listen: '127.0.0.1:0', tls: tls() });
      expect(await send(port, batches([goodEntry('a-1'), goodEntry('a-2')]), client('envoy', { uris: [ENVOY_ID] }))).toBeNull();
      // A DNS-only certificate is named by its first DNS SAN, as Envoy names a peer.
      const dnsConfig = tls();
      await server!.close(100);
      const second = await started({ listen: '127.0.0.1:0', tls: { ...dnsConfig, allowed_sans: ['envoy.edge.internal'] } });
      expect(await send(second.port, batches([goodEntry('b-1')]), client('envoy-dns', { dns: ['envoy.edge.internal', 'other.internal'] }))).toBeNull();
      const stored = await records(fx.dir);
      expect(stored.map((r) => [r.request_id, r.source])).toEqual([
        ['a-1', { kind: 'envoy_als', id: 'envoy-edge-1/modelgate_audit', sender: ENVOY_ID }],
        ['a-2', { kind: 'envoy_als', id: 'envoy-edge-1/modelgate_audit', sender: ENVOY_ID }],
        ['b-1', { kind: 'envoy_als', id: 'envoy-edge-1/modelgate_audit', sender: 'envoy.edge.internal' }],
      ]);
      expect((await verifyStore(fx.dir)).issues).toEqual([]);
    });

    it('says which tls file it cannot read', async () => {
      const config = receiverConfig({ listen: '127.0.0.1:0', tls: { ...tls(), client_ca_file: join(pki.dir, 'missing.crt') } });
      const result = await startAuditReceiver(config, { sink: store, privacy: testPrivacy() });
      expect(result).toEqual({ ok: false, error: `audit.receiver.tls.client_ca_file: cannot read ${join(pki.dir, 'missing.crt')}: ENOENT` });
    });
  });

  describe('on plaintext loopback', () => {
    it('names the sender "loopback"', async () => {
      const { port } = await started({ listen: '127.0.0.1:0' });
      expect(await streamMessages(port, batches([goodEntry('l-1')]))).toBeNull();
      expect((await records(fx.dir))[0]!.source).toEqual({ kind: 'envoy_als', id: 'envoy-edge-1/modelgate_audit', sender: 'loopback' });
    });

    it('refuses a stream beyond max_streams with RESOURCE_EXHAUSTED, and frees the slot when a stream ends', async () => {
      const { port, monitor } = await started({ listen: '127.0.0.1:0', max_streams: 1 });
      const first = openStream(port, batches([goodEntry('s-1')]));
      // The first stream holds the one slot once its entry is durable.
      await expect.poll(async () => (await records(fx.dir)).length, { timeout: 10_000 }).toBe(1);
      const second = await streamMessages(port, batches([goodEntry('s-2')]));
      expect(second?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      first.end();
      expect(await first.result).toBeNull();
      expect(await streamMessages(port, batches([goodEntry('s-3')]))).toBeNull();
      expect((await records(fx.dir)).map((r) => r.request_id)).toEqual(['s-1', 's-3']);
      expect(monitor.refused()).toMatchObject({ too_many_streams: 1 });
    });

    it('drops and counts entries above the entry rate (a frozen clock: no refill)', async () => {
      const { port, monitor, registry } = await started({ listen: '127.0.0.1:0', max_entries_per_second: 1, burst_entries: 5 }, new Registry(), () => 0);
      const many = Array.from({ length: 8 }, (_, i) => goodEntry(`r-${i}`));
      expect(await streamMessages(port, batches(many, [goodEntry('r-8'), goodEntry('r-9')]))).toBeNull();
      expect((await records(fx.dir)).map((r) => r.request_id)).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4']);
      expect(monitor.dropped().rate_limited).toBe(5);
      expect(await registry.metrics()).toContain('modelgate_audit_entries_dropped_total{reason="rate_limited"} 5');
    });

    it('refuses a message above max_message_bytes without storing it', async () => {
      const { port } = await started({ listen: '127.0.0.1:0', max_message_bytes: 4096 });
      const big = goodEntry('big-1');
      (big.request as Record<string, unknown>).path = `/v1/models/m:predict/${'x'.repeat(8192)}`;
      const error = await streamMessages(port, batches([big]));
      expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(await records(fx.dir)).toEqual([]);
    });
  });
});

describe('a receiver reachable beyond loopback needs mTLS', () => {
  it.each(['0.0.0.0:9194', '[::]:9194', '10.0.0.5:9194', 'modelgate:9194'])('%s without tls is a config error naming the key', (listen) => {
    const parsed = parseAuditConfig({ receiver: { listen } });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(/^audit\.receiver\.listen: .* without audit\.receiver\.tls/);
  });

  it.each(['127.0.0.1:9194', 'localhost:9194', '[::1]:9194', '127.0.0.1:0'])('%s without tls is fine', (listen) => {
    expect(parseAuditConfig({ receiver: { listen } }).ok).toBe(true);
  });

  it('names file, line and key in a serve config, and allowed_sans must not be empty', async () => {
    const fx = await tempStore();
    try {
      const file = join(fx.root, 'serve.yaml');
      writeFileSync(file, serveWithAuditYaml({ store: fx.dir, signingKeyFile: fx.privateKeyFile, receiver: "{ listen: '0.0.0.0:9194' }" }));
      expect(() => loadConfig(file)).toThrow(new RegExp(`${file}:\\d+: audit\\.receiver\\.listen: 0\\.0\\.0\\.0:9194 is reachable beyond loopback without audit\\.receiver\\.tls`));
      writeFileSync(
        file,
        serveWithAuditYaml({ store: fx.dir, signingKeyFile: fx.privateKeyFile, receiver: "{ listen: '0.0.0.0:9194', tls: { cert_file: a, key_file: b, client_ca_file: c, allowed_sans: [] } }" }),
      );
      expect(() => loadConfig(file)).toThrow(/audit\.receiver\.tls\.allowed_sans: /);
    } finally {
      await fx.cleanup();
    }
  });

  it('`modelgate audit serve --listen 0.0.0.0:0` refuses to start, before opening the store', async () => {
    const fx = await tempStore();
    try {
      const result = await runCli(['audit', 'serve', '--listen', '0.0.0.0:0', '--dir', fx.dir, '--key', fx.privateKeyFile]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^modelgate audit: --listen: 0\.0\.0\.0:0 is reachable beyond loopback without audit\.receiver\.tls/);
      expect(await records(fx.dir)).toEqual([]);
    } finally {
      await fx.cleanup();
    }
  });
});

describe('serve keeps the receiver off the Check port', () => {
  it('a forged stream to the Check port is UNIMPLEMENTED and writes nothing', async () => {
    const fx = await tempStore();
    const hashKeyFile = join(fx.root, 'hash.key');
    writeFileSync(hashKeyFile, 'test-only-hash-key-0123456789abcdef');
    const gate = await startTestGate(serveWithAuditYaml({ store: fx.dir, signingKeyFile: fx.privateKeyFile, hashKeyFile }));
    try {
      const error = await streamMessages(gate.gate.grpcPort, forged('forged-check-port'));
      expect(error?.code).toBe(grpc.status.UNIMPLEMENTED);
      // The receiver is elsewhere, and works.
      expect(gate.gate.auditPort).not.toBe(gate.gate.grpcPort);
      expect(await streamMessages(gate.gate.auditPort!, batches([goodEntry('real-1')]))).toBeNull();
    } finally {
      await gate.close();
    }
    expect((await records(fx.dir)).map((r) => [r.request_id, r.source.sender])).toEqual([['real-1', 'loopback']]);
    await fx.cleanup();
  });
});

describe('serve --workers 2', () => {
  it('every worker shares the receiver port and appends through the primary’s one store', async () => {
    const fx = await tempStore();
    const hashKeyFile = join(fx.root, 'hash.key');
    writeFileSync(hashKeyFile, 'test-only-hash-key-0123456789abcdef');
    // Cluster workers share a fixed port (port 0 would give each its own).
    const [grpcPort, auditPort] = [await freePort(), await freePort()];
    const file = join(fx.root, 'serve.yaml');
    writeFileSync(file, serveWithAuditYaml({ store: fx.dir, signingKeyFile: fx.privateKeyFile, hashKeyFile, receiver: `{ listen: '127.0.0.1:${auditPort}' }` }));
    const serve = await startServe(['--workers', '2', '--config', file, '--address', `127.0.0.1:${grpcPort}`], 2);
    try {
      await expect.poll(() => serve.lines.filter((l) => l.msg === 'modelgate serving the audit receiver').map((l) => l.port)).toEqual([auditPort, auditPort]);
      // Streams one after another: round-robin hands them to both workers.
      for (let i = 0; i < 4; i++) expect(await streamMessages(auditPort, batches([goodEntry(`w-${i}`)]))).toBeNull();
      expect((await streamMessages(grpcPort, forged('forged-workers')))?.code).toBe(grpc.status.UNIMPLEMENTED);
      const exited = new Promise((resolve) => serve.proc.once('exit', resolve));
      serve.proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      serve.proc.kill('SIGKILL');
    }
    const stored = await records(fx.dir);
    expect(stored.map((r) => r.request_id)).toEqual(['w-0', 'w-1', 'w-2', 'w-3']);
    expect(new Set(stored.map((r) => r.source.sender))).toEqual(new Set(['loopback']));
    expect((await verifyStore(fx.dir)).issues).toEqual([]);
    await fx.cleanup();
  }, 60_000);
});
