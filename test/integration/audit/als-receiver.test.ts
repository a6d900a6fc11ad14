// A real grpc-js client streams Envoy-shaped StreamAccessLogsMessages; the records land in the chain store.

import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessLogServiceClient } from '../../../src/audit/als-protos.js';
import { addAccessLogService, startAccessLogServer } from '../../../src/audit/als-receiver.js';
import { ChainStore } from '../../../src/audit/chain-store.js';
import type { AuditRecord } from '../../../src/audit/record.js';
import { readRecords } from '../../../src/audit/store-scan.js';
import { jsonToStruct } from '../../../src/grpc/struct.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { spawn } from 'node:child_process';
import { REPO } from '../../helpers/audit/cli.js';
import { TEST_HASH_KEY, tempStore, testPrivacy, type TempStore } from '../../helpers/audit/fixtures.js';

function envoyEntry(i: number, overrides: { decision?: string; flags?: object; code?: number } = {}) {
  return {
    common_properties: {
      sample_rate: 1,
      downstream_remote_address: { socket_address: { address: '10.1.2.3', port_value: 40000 + i } },
      start_time: { seconds: String(1_735_689_600 + i), nanos: 250_000_000 },
      duration: { seconds: '0', nanos: 12_500_000 },
      upstream_remote_address: { socket_address: { address: '10.9.9.9', port_value: 8000 } },
      tls_properties: {
        peer_certificate_properties: {
          subject_alt_name: [{ uri: 'spiffe://prod/ns/apps/sa/chatbot' }, { dns: 'chatbot.apps.svc' }],
          subject: 'CN=chatbot,O=acme',
        },
      },
      response_flags: overrides.flags ?? {},
      metadata: {
        filter_metadata: {
          'envoy.filters.http.ext_authz': jsonToStruct({
            decision_id: `dec-${i}`,
            request_id: `req-${i}`,
            decision: overrides.decision ?? 'allow',
            reason: overrides.decision === 'deny' ? 'denied_by_rule' : 'allowed',
            subject: 'svc:chatbot',
            auth_method: 'mtls',
            roles: 'reader,invoker',
            tenant: 'acme',
            model: 'llama-3-70b',
            action: 'generate',
            rule_id: 'r-invoke',
            shadow_rules: '',
            ratelimit_remaining: 41,
            ext_authz_duration: 3,
          }),
        },
      },
    },
    protocol_version: 'HTTP2',
    request: {
      request_method: 'POST',
      authority: 'models.acme.internal',
      path: '/v1/models/llama-3-70b:generate?api_key=SECRET',
      request_id: `req-${i}`,
      request_body_bytes: '2048',
      request_headers: { 'user-agent': 'sdk/1.2', authorization: 'Bearer SECRET' },
    },
    response: {
      response_code: { value: overrides.code ?? 200 },
      response_code_details: 'via_upstream',
      response_body_bytes: '512',
    },
  };
}

function checkServiceClient(): grpc.ServiceClientConstructor {
  const pkg = dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json'));
  const def = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
    keepCase: true,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(pkg, 'deps', d)),
  });
  const loaded = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  return loaded.envoy.service.auth.v3.Authorization;
}

interface StreamCall {
  write(message: unknown): boolean;
  end(): void;
}

function streamLogs(port: number, batches: unknown[][]): Promise<void> {
  const Client = accessLogServiceClient();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    StreamAccessLogs(cb: (error: grpc.ServiceError | null) => void): StreamCall;
  };
  return new Promise((resolve, reject) => {
    const call = client.StreamAccessLogs((error) => {
      client.close();
      if (error) reject(error);
      else resolve();
    });
    batches.forEach((entries, n) => {
      call.write({
        ...(n === 0 ? { identifier: { node: { id: 'envoy-edge-1', cluster: 'edge' }, log_name: 'modelgate_audit' } } : {}),
        http_logs: { log_entry: entries },
      });
    });
    call.end();
  });
}

async function allRecords(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of readRecords(dir)) out.push(r);
  return out;
}

describe('AccessLogService receiver', () => {
  let fx: TempStore;
  beforeEach(async () => {
    fx = await tempStore();
  });
  afterEach(() => fx.cleanup());

  it('stores Envoy-shaped entries with ext_authz metadata, in order, with the right fields', async () => {
    const store = await ChainStore.open({ dir: fx.dir, signingKey: fx.key, batchMaxDelayMs: 5 });
    const server = await startAccessLogServer({ listen: '127.0.0.1:0', sink: store, privacy: testPrivacy({ keep: [{ name: 'user-agent', mode: 'plain' }] }) });
    try {
      await streamLogs(server.port, [
        [envoyEntry(0), envoyEntry(1)],
        [envoyEntry(2, { decision: 'deny', code: 403, flags: { unauthorized_details: { reason: 'EXTERNAL_SERVICE' } } })],
        Array.from({ length: 50 }, (_, k) => envoyEntry(3 + k)),
      ]);
    } finally {
      await server.close();
      await store.close();
    }
    const records = await allRecords(fx.dir);
    expect(records).toHaveLength(53);
    expect(records.map((r) => r.request_id)).toEqual(Array.from({ length: 53 }, (_, i) => `req-${i}`));
    const first = records[0]!;
    expect(first).toMatchObject({
      time: '2025-01-01T00:00:00.250Z',
      source: { kind: 'envoy_als', id: 'envoy-edge-1/modelgate_audit' },
      method: 'POST',
      authority: 'models.acme.internal',
      path: '/v1/models/llama-3-70b:generate',
      protocol: 'HTTP/2',
      peer: {
        principal: 'spiffe://prod/ns/apps/sa/chatbot',
        uri_sans: ['spiffe://prod/ns/apps/sa/chatbot'],
        dns_sans: ['chatbot.apps.svc'],
        certificate_subject: 'CN=chatbot,O=acme',
      },
      subject: 'svc:chatbot',
      auth_method: 'mtls',
      roles: ['reader', 'invoker'],
      tenant: 'acme',
      model: 'llama-3-70b',
      action: 'generate',
      decision: 'allow',
      decision_id: 'dec-0',
      reason: 'allowed',
      rule_id: 'r-invoke',
      response_code: 200,
      response_flags: [],
      duration_ms: 12.5,
      ext_authz_duration_ms: 3,
      bytes_received: 2048,
      bytes_sent: 512,
      upstream_host: '10.9.9.9:8000',
      ratelimit: { ratelimit_remaining: '41' },
      kept: { 'user-agent': 'sdk/1.2' },
    });
    expect(first.peer.address).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(records[2]).toMatchObject({ decision: 'deny', response_code: 403, response_flags: ['UAEX'], reason: 'denied_by_rule' });
    const raw = JSON.stringify(records);
    expect(raw).not.toContain('SECRET');
    expect(raw).not.toContain('10.1.2.3');
    const report = await verifyStore(fx.dir);
    expect(report.issues).toEqual([]);
    expect(report.checkpoints).toBe(1);
  });

  it('runs beside another service on a shared grpc.Server, with concurrent streams', async () => {
    const store = await ChainStore.open({ dir: fx.dir, signingKey: fx.key, batchMaxDelayMs: 5, batchMaxRecords: 16 });
    const server = new grpc.Server();
    const Authorization = checkServiceClient();
    // addAccessLogService on a server that carries another service (serve keeps the receiver on its own listener).
    server.addService(Authorization.service, { Check: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { status: { code: 0 } }) });
    addAccessLogService(server, { sink: store, privacy: testPrivacy() });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      const check = new Authorization(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
        Check(req: object, cb: (e: grpc.ServiceError | null, res?: { status?: { code?: number } }) => void): void;
      };
      const answer = await new Promise<{ status?: { code?: number } } | undefined>((resolve, reject) =>
        check.Check({}, (e, res) => (e ? reject(e) : resolve(res))),
      );
      check.close();
      expect(answer?.status?.code ?? 0).toBe(0);
      await Promise.all(
        [0, 1, 2].map((s) => streamLogs(port, [Array.from({ length: 40 }, (_, k) => envoyEntry(s * 1000 + k))])),
      );
    } finally {
      server.forceShutdown();
      await store.close();
    }
    const records = await allRecords(fx.dir);
    expect(records).toHaveLength(120);
    expect(new Set(records.map((r) => r.request_id)).size).toBe(120);
    expect((await verifyStore(fx.dir, {})).ok).toBe(true);
  });

  it('runs standalone as `modelgate audit serve` and seals the segment on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'audit', 'serve', '--listen', '127.0.0.1:0', '--dir', fx.dir, '--key', fx.privateKeyFile], {
      cwd: REPO,
      env: { ...process.env, MODELGATE_AUDIT_HASH_KEY: TEST_HASH_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
    });
    await streamLogs(port, [[envoyEntry(0), envoyEntry(1)], [envoyEntry(2)]]);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await allRecords(fx.dir)).map((r) => r.request_id)).toEqual(['req-0', 'req-1', 'req-2']);
    expect(await verifyStore(fx.dir, { publicKey: fx.key.publicKey })).toMatchObject({ ok: true, checkpoints: 1 });
  });
});
