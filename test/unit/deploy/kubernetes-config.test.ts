// deploy/kubernetes cross-checked with modelgate itself: the ConfigMap's modelgate.yaml passes
// `modelgate validate` (the real CLI, with the Deployment's mounts and env), and the ports, paths,
// probes, Secrets, selectors and the proxies' ext_authz settings agree with that config and with
// the admin server's real endpoints.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startAdminServer } from '../../../src/admin/server.js';
import { splitAddress } from '../../../src/net/listen.js';
import { ENV_OVERRIDES } from '../../../src/config/env.js';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { find, KUBE_DIR, loadDocs, mapMounts, podContainers, render, type Container, type K8sObject } from '../../helpers/deploy/manifests.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '../../..');
const CONFIG_KEY = 'modelgate.yaml';

interface Variant {
  readonly objects: K8sObject[];
  readonly deployment: K8sObject & { spec: DeploymentSpec };
  readonly container: Container;
  readonly volumes: Volume[];
  readonly yaml: string;
  readonly config: Config;
}
interface DeploymentSpec {
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: { terminationGracePeriodSeconds: number; volumes: Volume[] } };
}
interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string; optional?: boolean };
  emptyDir?: object;
}
interface ServicePort {
  name: string;
  port: number;
  targetPort: string | number;
  appProtocol?: string;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function variant(dir: string): Variant {
  const objects = render(join(KUBE_DIR, dir));
  const deployment = find<Variant['deployment']>(objects, 'Deployment', 'modelgate');
  const container = podContainers(deployment)[0]!;
  const volumes = deployment.spec.template.spec.volumes;
  const configVolume = volumes.find((v) => v.configMap)!;
  const configMap = find<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap', configVolume.configMap!.name);
  const yaml = configMap.data[CONFIG_KEY]!;
  return { objects, deployment, container, volumes, yaml, config: parseConfig(yaml, `${dir}/${CONFIG_KEY}`, {}).config };
}

const port = (address: string) => splitAddress(address).port;
const containerPort = (c: Container, name: string | number) =>
  typeof name === 'number' ? name : c.ports!.find((p) => p.name === name)?.containerPort;

/** The mount a file path lies under, so the path exists in the pod. */
function mountOf(v: Variant, file: string) {
  const mount = (v.container.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
  return mount ? { mount, volume: v.volumes.find((vol) => vol.name === mount.name)! } : undefined;
}

/** Config paths that name files (TLS, secrets). */
function configFiles(c: Config): string[] {
  return [c.server.grpc.tls?.cert_file, c.server.grpc.tls?.key_file, c.server.grpc.tls?.client_ca_file, c.identity.api_keys?.secret_file, c.identity.api_keys?.keys_file].filter(
    (f): f is string => f !== undefined,
  );
}

/** `modelgate validate` on the ConfigMap as the pod sees it: mounts mapped to temp dirs, the Deployment's env. */
async function validateInPod(v: Variant): Promise<{ stdout: string; stderr: string }> {
  const root = mkdtempSync(join(tmpdir(), 'modelgate-k8s-'));
  dirs.push(root);
  const text = mapMounts(v.yaml, v.container, root);
  // Every file the config names lies under a mount, so it was mapped into the temp dir.
  for (const file of configFiles(parseConfig(text, CONFIG_KEY, {}).config)) expect(file.startsWith(root), file).toBe(true);
  // What the Secrets hold (docs/deploy.md says how to create them): made up here, never checked in.
  writeFileSync(join(root, 'secrets', 'api-key-secret'), 'k8s-test-secret-0123456789abcdef0123456789');
  writeFileSync(join(root, 'secrets', 'api-keys.yaml'), 'keys: []\n');
  const file = join(root, 'config', CONFIG_KEY);
  writeFileSync(file, text);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const e of v.container.env ?? []) env[e.name] = e.value ?? (e.name === 'MODELGATE_REDIS_URL' ? 'redis://redis.modelgate.svc:6379' : 'from-secret');
  return run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'validate', file], { cwd: REPO, env });
}

describe('the base manifests (mTLS on the Check port)', () => {
  const v = variant('base');

  it('carry a config that passes `modelgate validate` as the pod would run it, with no plaintext warning', async () => {
    const { stdout, stderr } = await validateInPod(v);
    expect(stdout).toMatch(/: OK \(4 rules, sha256 [0-9a-f]{64}\)/);
    expect(stdout).toContain('limits.redis.url = redis://redis.modelgate.svc:6379  (env:MODELGATE_REDIS_URL)');
    expect(stderr).toBe('');
  });

  it('serve the Check port beyond loopback only with mTLS, from files the Secret mounts', () => {
    const { grpc } = v.config.server;
    expect(splitAddress(grpc.address).host).toBe('0.0.0.0');
    expect(grpc.tls).toBeDefined();
    expect(grpc.tls!.require_client_cert).toBe(true);
    expect(grpc.allow_plaintext_beyond_loopback).toBe(false);
    for (const file of configFiles(v.config)) {
      const at = mountOf(v, file);
      expect(at, file).toBeDefined();
      expect(at!.volume.secret, `${file} comes from a Secret`).toBeDefined();
    }
    expect(mountOf(v, grpc.tls!.cert_file)!.volume.secret!.secretName).toBe('modelgate-tls');
    // kubernetes.io/tls Secret keys, plus the CA that signs the proxies' client certificates.
    expect([grpc.tls!.cert_file, grpc.tls!.key_file, grpc.tls!.client_ca_file].map((f) => f!.split('/').pop())).toEqual(['tls.crt', 'tls.key', 'ca.crt']);
  });

  it('start modelgate on the ConfigMap, with ports that match its config', () => {
    const c = v.container;
    expect(c.args).toEqual(['serve', '--config', `${mountOf(v, `/etc/modelgate/config/${CONFIG_KEY}`)!.mount.mountPath}/${CONFIG_KEY}`]);
    expect(mountOf(v, c.args![2]!)!.volume.configMap).toBeDefined();
    expect(containerPort(c, 'grpc')).toBe(port(v.config.server.grpc.address));
    expect(containerPort(c, 'admin')).toBe(port(v.config.server.admin.address));
    expect(v.config.server.admin.enabled).toBe(true);
    expect(splitAddress(v.config.server.admin.address).host).toBe('0.0.0.0');
    // Every MODELGATE_* variable is one modelgate reads; secrets come from Secrets, not values.
    for (const e of c.env ?? []) {
      if (e.name.startsWith('MODELGATE_')) expect(ENV_OVERRIDES.map((o) => o.name)).toContain(e.name);
    }
    expect(c.env!.find((e) => e.name === 'MODELGATE_REDIS_URL')!.valueFrom!.secretKeyRef).toEqual({ name: 'modelgate-redis', key: 'url' });
    expect(v.config.limits).toBeDefined();
  });

  it('probe /healthz and /readyz on the admin port, and the admin server answers exactly those', async () => {
    const c = v.container;
    expect(c.livenessProbe!.httpGet!.path).toBe('/healthz');
    expect(c.readinessProbe!.httpGet!.path).toBe('/readyz');
    expect(c.startupProbe!.httpGet!.path).toBe('/healthz');
    for (const probe of [c.livenessProbe!, c.readinessProbe!, c.startupProbe!]) {
      expect(containerPort(c, probe.httpGet!.port)).toBe(port(v.config.server.admin.address));
    }
    // modelgate's real admin server: liveness stays 200 while not ready; readiness follows the verdict.
    let ready = false;
    const admin = await startAdminServer({
      address: '127.0.0.1:0',
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      ready: async () => ({ ready, detail: ready ? 'ready' : 'starting' }),
    });
    try {
      const get = async (path: string) => (await fetch(`http://127.0.0.1:${admin.port}${path}`)).status;
      expect(await get(c.livenessProbe!.httpGet!.path)).toBe(200);
      expect(await get(c.readinessProbe!.httpGet!.path)).toBe(503);
      ready = true;
      expect(await get(c.readinessProbe!.httpGet!.path)).toBe(200);
      expect(await get(find<K8sObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } }>(v.objects, 'Deployment').spec.template.metadata.annotations['prometheus.io/path']!)).toBe(200);
      expect(await get('/health')).toBe(404);
    } finally {
      await admin.close();
    }
  });

  it('give the pod time to drain: preStop pause plus shutdown_grace_seconds within the termination grace period', () => {
    const pause = Number(v.container.lifecycle!.preStop!.exec!.command.at(-1));
    expect(pause).toBeGreaterThan(0);
    expect(v.deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(pause + v.config.server.shutdown_grace_seconds);
  });

  it('select the pods from the Service, PodDisruptionBudget and NetworkPolicy, and scale the Deployment', () => {
    const labels = v.deployment.spec.template.metadata.labels;
    const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, val]) => labels[k] === val);
    expect(matches(v.deployment.spec.selector.matchLabels)).toBe(true);
    const service = find<K8sObject & { spec: { selector: Record<string, string>; ports: ServicePort[] } }>(v.objects, 'Service', 'modelgate');
    expect(matches(service.spec.selector)).toBe(true);
    const grpcPort = service.spec.ports.find((p) => p.name === 'grpc')!;
    expect(containerPort(v.container, grpcPort.targetPort)).toBe(port(v.config.server.grpc.address));
    expect(grpcPort.appProtocol).toBe('grpc');
    const adminPort = service.spec.ports.find((p) => p.targetPort === 'admin')!;
    expect(containerPort(v.container, adminPort.targetPort)).toBe(port(v.config.server.admin.address));

    const pdb = find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable: number } }>(v.objects, 'PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels)).toBe(true);
    const hpa = find<K8sObject & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; metrics: Array<{ resource: { name: string } }> } }>(v.objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: v.deployment.metadata.name });
    // A drain never takes the last pod; CPU utilization needs a CPU request to compare against.
    expect(pdb.spec.maxUnavailable).toBeLessThan(hpa.spec.minReplicas);
    expect(hpa.spec.metrics[0]!.resource.name).toBe('cpu');
    expect(v.container.resources!.requests!.cpu).toBeDefined();

    const policy = find<K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Array<{ from: Array<{ namespaceSelector: { matchLabels: Record<string, string> } }>; ports: Array<{ port: number }> }> } }>(v.objects, 'NetworkPolicy');
    expect(matches(policy.spec.podSelector.matchLabels)).toBe(true);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const byPort = new Map(policy.spec.ingress.map((rule) => [rule.ports.map((p) => p.port).join(','), rule.from.map((f) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name'])]));
    // The Check port: only the proxies' namespaces. The admin port: only Prometheus's.
    expect(Object.fromEntries(byPort)).toEqual({
      [String(port(v.config.server.grpc.address))]: ['envoy-gateway-system', 'istio-system'],
      [String(port(v.config.server.admin.address))]: ['monitoring'],
    });
  });
});

describe('the Istio overlay (mesh mTLS)', () => {
  const base = variant('base');
  const v = variant('istio');

  it('carries the base config with plaintext acknowledged instead of TLS, and it passes `modelgate validate`', async () => {
    const { stdout, stderr } = await validateInPod(v);
    expect(stdout).toMatch(/: OK \(4 rules/);
    expect(stderr).toMatch(/^note: server\.grpc listens on 0\.0\.0\.0:9191 beyond loopback/);
    expect(stderr).not.toContain('SECURITY WARNING');
    expect(v.config.server.grpc.tls).toBeUndefined();
    expect(v.config.server.grpc.allow_plaintext_beyond_loopback).toBe(true);
    // Nothing else may drift from the base.
    const { tls: _tls, ...baseGrpc } = base.config.server.grpc;
    expect({ ...v.config, server: { ...v.config.server, grpc: { ...v.config.server.grpc, allow_plaintext_beyond_loopback: false } } }).toEqual({
      ...base.config,
      server: { ...base.config.server, grpc: baseGrpc },
    });
  });

  it('protects the plaintext port with the mesh: sidecars injected, STRICT mTLS, only the ingress gateway may call', () => {
    const labels = v.deployment.spec.template.metadata.labels;
    expect(find(v.objects, 'Namespace', 'modelgate').metadata.labels!['istio-injection']).toBe('enabled');
    const peer = find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; mtls: { mode: string }; portLevelMtls: Record<string, { mode: string }> } }>(v.objects, 'PeerAuthentication');
    expect(peer.metadata.namespace).toBe(v.deployment.metadata.namespace);
    expect(peer.spec.selector.matchLabels).toEqual(v.deployment.spec.selector.matchLabels);
    expect(peer.spec.mtls.mode).toBe('STRICT');
    // Only the admin port may be reached without mesh mTLS (Prometheus outside the mesh).
    expect(Object.keys(peer.spec.portLevelMtls)).toEqual([String(port(v.config.server.admin.address))]);
    const callers = find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; action: string; rules: Array<{ from?: Array<{ source: { principals: string[] } }>; to: Array<{ operation: { ports: string[] } }> }> } }>(v.objects, 'AuthorizationPolicy', 'modelgate-callers');
    expect(Object.entries(callers.spec.selector.matchLabels).every(([k, val]) => labels[k] === val)).toBe(true);
    expect(callers.spec.action).toBe('ALLOW');
    const checkRule = callers.spec.rules.find((r) => r.to[0]!.operation.ports.includes(String(port(v.config.server.grpc.address))))!;
    expect(checkRule.from![0]!.source.principals).toEqual(['cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account']);
  });

  it('registers modelgate as a fail-closed gRPC ext_authz provider that the CUSTOM policy uses', () => {
    // mesh-config.yaml configures istiod, so it is not in the kustomization.
    const operator = loadDocs(join(KUBE_DIR, 'istio', 'mesh-config.yaml'))[0] as unknown as IstioOperatorDoc;
    const providers = operator.spec.meshConfig.extensionProviders;
    const custom = find<K8sObject & { spec: { action: string; provider: { name: string }; selector: { matchLabels: Record<string, string> } } }>(v.objects, 'AuthorizationPolicy', 'modelgate-ext-authz');
    expect(custom.spec.action).toBe('CUSTOM');
    const provider = providers.find((p) => p.name === custom.spec.provider.name)!.envoyExtAuthzGrpc;
    const service = find<K8sObject & { spec: { ports: ServicePort[] } }>(v.objects, 'Service', 'modelgate');
    expect(provider.service).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
    expect(provider.port).toBe(service.spec.ports.find((p) => p.name === 'grpc')!.port);
    expect(provider.failOpen).toBe(false);
    expect(provider.statusOnError).toBe(String(v.config.server.on_error.http_status));
    // Longer than one bounded Redis call, shorter than a second.
    const timeoutMs = Number(provider.timeout!.replace(/s$/, '')) * 1000;
    expect(timeoutMs).toBeGreaterThan(v.config.limits!.redis.timeout_ms);
    expect(timeoutMs).toBeLessThanOrEqual(1000);
    expect(provider.includeRequestBodyInCheck!.maxRequestBytes).toBeLessThan(v.config.server.grpc.max_receive_message_bytes);
    // The CUSTOM policy runs where the NetworkPolicy lets callers in: the ingress gateway in istio-system.
    expect(custom.metadata.namespace).toBe('istio-system');
    expect(custom.spec.selector.matchLabels).toEqual({ istio: 'ingressgateway' });
  });
});

interface IstioOperatorDoc {
  spec: { meshConfig: { extensionProviders: Array<{ name: string; envoyExtAuthzGrpc: { service: string; port: number; timeout?: string; failOpen?: boolean; statusOnError?: string; includeRequestBodyInCheck?: { maxRequestBytes: number } } }> } };
}

describe('the Envoy Gateway overlay', () => {
  const v = variant('envoy-gateway');

  it('points SecurityPolicy.extAuth at the modelgate Service, fail closed, with the headers and body modelgate reads', () => {
    type Policy = K8sObject & { spec: { extAuth: { grpc: { backendRefs: Array<{ kind: string; name: string; namespace: string; port: number }> }; headersToExtAuth: string[]; bodyToExtAuth: { maxRequestBytes: number }; failOpen: boolean; statusOnError: number; timeout: string } } };
    const policy = find<Policy>(v.objects, 'SecurityPolicy');
    const service = find<K8sObject & { spec: { ports: ServicePort[] } }>(v.objects, 'Service', 'modelgate');
    const ref = policy.spec.extAuth.grpc.backendRefs[0]!;
    expect(ref).toMatchObject({ kind: 'Service', name: service.metadata.name, namespace: service.metadata.namespace, port: service.spec.ports.find((p) => p.name === 'grpc')!.port });
    expect(policy.spec.extAuth.failOpen).toBe(false);
    expect(policy.spec.extAuth.statusOnError).toBe(v.config.server.on_error.http_status);
    expect(policy.spec.extAuth.headersToExtAuth).toEqual(expect.arrayContaining([v.config.identity.jwt!.header, v.config.identity.api_keys!.header]));
    expect(policy.spec.extAuth.bodyToExtAuth.maxRequestBytes).toBeLessThan(v.config.server.grpc.max_receive_message_bytes);
    expect(Number(policy.spec.extAuth.timeout.replace(/ms$/, ''))).toBeGreaterThan(v.config.limits!.redis.timeout_ms);

    // Cross-namespace reference allowed by the Service's namespace, for exactly this policy's namespace.
    const grant = find<K8sObject & { spec: { from: Array<{ kind: string; namespace: string }>; to: Array<{ kind: string; name: string }> } }>(v.objects, 'ReferenceGrant');
    expect(grant.metadata.namespace).toBe(service.metadata.namespace);
    expect(grant.spec.from).toEqual([{ group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: policy.metadata.namespace }]);
    expect(grant.spec.to).toEqual([{ group: '', kind: 'Service', name: service.metadata.name }]);
  });

  it('speaks mTLS to the Check port: Envoy verifies modelgate and presents a client certificate', () => {
    const service = find<K8sObject & { spec: { ports: ServicePort[] } }>(v.objects, 'Service', 'modelgate');
    const tls = find<K8sObject & { spec: { targetRefs: Array<{ kind: string; name: string; sectionName: string }>; validation: { hostname: string } } }>(v.objects, 'BackendTLSPolicy');
    expect(tls.spec.targetRefs).toEqual([{ group: '', kind: 'Service', name: service.metadata.name, sectionName: 'grpc' }]);
    expect(service.spec.ports.map((p) => p.name)).toContain(tls.spec.targetRefs[0]!.sectionName);
    expect(tls.spec.validation.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc`);
    expect(v.config.server.grpc.tls?.require_client_cert).toBe(true);
    const proxy = find<K8sObject & { spec: { backendTLS: { clientCertificateRef: { kind: string; name: string } } } }>(v.objects, 'EnvoyProxy');
    expect(proxy.spec.backendTLS.clientCertificateRef.kind).toBe('Secret');
    // The NetworkPolicy admits the Envoy pods from the namespace this EnvoyProxy configures.
    expect(proxy.metadata.namespace).toBe('envoy-gateway-system');
  });
});

describe('docs/deploy.md', () => {
  it('names every Secret the manifests reference, so an operator knows what to create', () => {
    const docs = readFileSync(join(REPO, 'docs', 'deploy.md'), 'utf8');
    const secrets = new Set<string>();
    for (const dir of ['base', 'istio', 'envoy-gateway']) {
      const objects = render(join(KUBE_DIR, dir));
      const text = JSON.stringify(objects);
      for (const m of text.matchAll(/"secretName":"([^"]+)"|"secretKeyRef":\{"name":"([^"]+)"|"kind":"Secret","name":"([^"]+)"/g)) secrets.add(m[1] ?? m[2] ?? m[3]!);
    }
    expect([...secrets].sort()).toEqual(['envoy-client-tls', 'modelgate-api-keys', 'modelgate-redis', 'modelgate-tls']);
    for (const name of secrets) expect(docs, name).toContain(name);
  });
});
