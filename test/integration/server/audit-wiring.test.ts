// With an audit section, `serve` takes Envoy's access-log stream on its own receiver listener (never
// the Check port) and the records land in a chain that verifies, naming the sender.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envoyProtoIncludeDirs } from '../../../src/grpc/protos.js';
import { envoyCheckRequest } from '../../../src/grpc/client.js';
import { readRecords } from '../../../src/audit/store-scan.js';
import { verifyStore } from '../../../src/audit/verify.js';
import { startTestGate, type TestGate } from '../../helpers/gate.js';

function accessLogClient(address: string) {
  const def = protoLoader.loadSync('envoy/service/accesslog/v3/als.proto', { keepCase: true, includeDirs: envoyProtoIncludeDirs() });
  const pkg = grpc.loadPackageDefinition(def) as any;
  return new pkg.envoy.service.accesslog.v3.AccessLogService(address, grpc.credentials.createInsecure());
}

describe('audit receiver in serve', () => {
  let dir: string;
  let t: TestGate;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modelgate-audit-wiring-'));
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'audit.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'hash.key'), 'test-hash-key-0123456789abcdef');
    t = await startTestGate(`
identity:
  mtls: { sources: [principal], workloads: [{ match: 'spiffe://t/a', roles: [analyst] }] }
policy:
  roles: { analyst: null }
  rules: [{ id: analysts, effect: allow, roles: [analyst] }]
  targets: { paths: [{ pattern: '/v1/models/{model}:predict', action: predict }] }
audit:
  store: { dir: '${join(dir, 'store')}', signing_key_file: '${join(dir, 'audit.key')}', batch_max_delay: 5ms }
  privacy: { hash_key_file: '${join(dir, 'hash.key')}' }
  receiver: { listen: '127.0.0.1:0' }
`);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores an Envoy access-log entry sent to the receiver port, with the decision metadata', async () => {
    const check = await t.client.check(envoyCheckRequest({ principal: 'spiffe://t/a', requestId: 'req-audit-1' }));
    expect(check.status.code).toBe(0);
    const metadata = check.dynamic_metadata!;
    expect(t.gate.auditPort).toBeGreaterThan(0);
    expect(t.gate.auditPort).not.toBe(t.gate.grpcPort);
    const client = accessLogClient(`127.0.0.1:${t.gate.auditPort}`);
    await new Promise<void>((resolve, reject) => {
      const call = client.StreamAccessLogs((error: Error | null) => (client.close(), error ? reject(error) : resolve()));
      call.write({
        identifier: { node: { id: 'edge-1', cluster: 'edge' }, log_name: 'modelgate-edge' },
        http_logs: {
          log_entry: [{
            common_properties: {
              start_time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
              metadata: { filter_metadata: { 'envoy.filters.http.ext_authz': metadata } },
              downstream_remote_address: { socket_address: { address: '10.1.2.3', port_value: 5555 } },
            },
            request: { request_method: 'POST', path: '/v1/models/fraud-detector:predict', request_id: 'req-audit-1', authority: 'models' },
            response: { response_code: { value: 200 } },
          }],
        },
      });
      call.end();
    });
    await t.close();
    t = undefined as unknown as TestGate;
    const records = [];
    for await (const r of readRecords(join(dir, 'store'))) records.push(r);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ request_id: 'req-audit-1', decision: 'allow', model: 'fraud-detector', reason: 'allowed' });
    expect(records[0]!.subject).toMatch(/spiffe:\/\/t\/a$/);
    expect(records[0]!.source).toEqual({ kind: 'envoy_als', id: 'edge-1/modelgate-edge', sender: 'loopback' });
    const report = await verifyStore(join(dir, 'store'));
    expect(report.ok).toBe(true);
    expect(report.issues).toEqual([]);
    expect(report.checkpoints).toBeGreaterThan(0);
  });
});
