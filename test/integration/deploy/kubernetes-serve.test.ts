// The base manifests' ConfigMap served by a real modelgate, as the pod would run it: the Secrets'
// files (server certificate, client CA, API-key secret and keys) where the Deployment mounts them,
// MODELGATE_REDIS_URL from the env it declares (a real Redis), the Deployment's probes answered on
// the admin port, and the Check port answering only a proxy with a client certificate from the CA.
// Two local stand-ins: listen addresses on 127.0.0.1:0 instead of 0.0.0.0:9191/9192, and the OIDC
// discovery URL pointing at a local issuer (tests never leave this machine).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../src/identity/api-key.js';
import { checkClient, envoyCheckRequest } from '../../../src/grpc/client.js';
import { parseConfig } from '../../../src/config/load.js';
import { startModelgate, type Modelgate } from '../../../src/main.js';
import { signingKey, signToken, startJwksServer, type JwksServer } from '../../helpers/jwt.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { find, KUBE_DIR, mapMounts, podContainers, render, type K8sObject } from '../../helpers/deploy/manifests.js';

describe('the base Kubernetes manifests, served', () => {
  const objects = render(join(KUBE_DIR, 'base'));
  const deployment = find(objects, 'Deployment', 'modelgate');
  const container = podContainers(deployment)[0]!;
  const configMap = find<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap', 'modelgate-config');
  let root: string;
  let pki: TestPki;
  let redis: RedisServer;
  let idp: JwksServer;
  let gate: Modelgate;
  let token: string;
  let apiKey: string;
  const clients: Array<{ close(): void }> = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'modelgate-k8s-serve-'));
    let text = mapMounts(configMap.data['modelgate.yaml']!, container, root);
    const config = parseConfig(text, 'modelgate.yaml', {}).config;
    const issuer = config.identity.jwt!.issuers[0]!;
    const key = await signingKey('ES256', 'k1');
    idp = await startJwksServer(issuer.issuer, key);
    text = text.replace(issuer.discovery_url!, idp.discoveryUrl);

    // Secret modelgate-tls: a server certificate for the Service name, and the CA of the proxies' client certificates.
    pki = createTestPki('proxies CA');
    const server = pki.issue('modelgate', { dns: ['modelgate.modelgate.svc'], ips: ['127.0.0.1'], server: true });
    const tls = config.server.grpc.tls!;
    writeFileSync(tls.cert_file, server.certPem);
    writeFileSync(tls.key_file, server.keyPem);
    writeFileSync(tls.client_ca_file!, pki.ca.certPem);
    // Secret modelgate-api-keys.
    const secret = 'k8s-serve-test-secret-0123456789abcdef';
    writeFileSync(config.identity.api_keys!.secret_file!, secret);
    const created = createApiKey(Buffer.from(secret), 'batch-scorer');
    apiKey = created.key;
    writeFileSync(config.identity.api_keys!.keys_file!, stringify({ keys: [{ id: 'batch-scorer', hash: created.hash, subject: 'svc:batch-scorer', roles: ['analyst'] }] }));

    redis = await startRedis();
    const configFile = join(root, 'config', 'modelgate.yaml');
    writeFileSync(configFile, text);
    const env: NodeJS.ProcessEnv = {};
    for (const e of container.env ?? []) env[e.name] = e.value ?? (e.name === 'MODELGATE_REDIS_URL' ? redis.url : undefined);
    gate = await startModelgate({
      configFile,
      env,
      grpcAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      logger: pino({ level: 'silent' }),
      watch: false,
    });
    token = await signToken(key, { issuer: issuer.issuer, audience: issuer.audiences[0], subject: 'alice', claims: { roles: ['analyst'] } });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await gate?.close();
    await idp?.close();
    await redis?.stop();
    pki?.cleanup();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const client = (credentials: grpc.ChannelCredentials) => {
    const c = checkClient(`127.0.0.1:${gate.grpcPort}`, credentials);
    clients.push(c);
    return c;
  };
  const asProxy = () => {
    const proxy = pki.issue('envoy', { uris: ['spiffe://cluster.local/ns/envoy-gateway-system/sa/envoy'] });
    return grpc.credentials.createSsl(Buffer.from(pki.ca.certPem), Buffer.from(proxy.keyPem), Buffer.from(proxy.certPem), {
      checkServerIdentity: () => undefined,
    });
  };

  it('answers the Deployment probes on the admin port with 200 once serving', async () => {
    for (const probe of [container.livenessProbe!, container.readinessProbe!, container.startupProbe!]) {
      const res = await fetch(`http://127.0.0.1:${gate.adminPort}${probe.httpGet!.path}`);
      expect(res.status, probe.httpGet!.path).toBe(200);
    }
  });

  it('answers a proxy that presents a client certificate from the CA: JWT and API key allowed, no credential denied', async () => {
    const proxy = client(asProxy());
    const jwt = await proxy.check(envoyCheckRequest({ path: '/v1/models/fraud-detector:predict', headers: { authorization: `Bearer ${token}` } }));
    expect(jwt.status.code).toBe(0);
    const key = await proxy.check(envoyCheckRequest({ path: '/v1/models/fraud-detector:predict', headers: { 'x-api-key': apiKey } }));
    expect(key.status.code).toBe(0);
    const none = await proxy.check(envoyCheckRequest({ path: '/v1/models/fraud-detector:predict' }));
    expect(none.status.code).toBe(16);
    // training needs the ml-platform org (the deny rule's CEL condition).
    const train = await proxy.check(envoyCheckRequest({ path: '/v1/models/fraud-detector:train', headers: { authorization: `Bearer ${token}` } }));
    expect(train.status.code).toBe(7);
  });

  it('refuses a caller without a client certificate, and one whose certificate another CA signed', async () => {
    const request = envoyCheckRequest({ path: '/v1/models/fraud-detector:predict', headers: { authorization: `Bearer ${token}` } });
    const anonymous = client(grpc.credentials.createSsl(Buffer.from(pki.ca.certPem), null, null, { checkServerIdentity: () => undefined }));
    await expect(anonymous.check(request)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    const plaintext = client(grpc.credentials.createInsecure());
    await expect(plaintext.check(request)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    const other = createTestPki('someone else');
    try {
      const stranger = other.issue('stranger', {});
      const wrong = client(grpc.credentials.createSsl(Buffer.from(pki.ca.certPem), Buffer.from(stranger.keyPem), Buffer.from(stranger.certPem), { checkServerIdentity: () => undefined }));
      await expect(wrong.check(request)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      other.cleanup();
    }
  });

  it('limits through the Redis the Deployment env names: one shared budget', async () => {
    const ready = await gate.ready();
    expect(ready.ready).toBe(true);
    expect(ready.degraded ?? false).toBe(false);
    const keys = await redisKeys(redis.url);
    expect(keys.some((k) => k.startsWith('modelgate:rl:'))).toBe(true);
  });
});

async function redisKeys(url: string): Promise<string[]> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true });
  try {
    await r.connect();
    return await r.keys('*');
  } finally {
    r.disconnect();
  }
}
