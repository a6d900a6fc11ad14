// Every document in deploy/kubernetes validated against the schema of its kind: Kubernetes' own
// (kubernetes-models), Istio's CRDs (@kubernetes-models/istio), Gateway API's CRDs
// (@kubernetes-models/gateway-api). Two things no npm package ships a schema for get a strict
// structural check here, transcribed field by field from their source:
// - Istio's MeshConfig.ExtensionProvider.envoyExtAuthzGrpc (istio/api mesh/v1alpha1/config.proto,
//   EnvoyExternalAuthorizationGrpcProvider and EnvoyExternalAuthorizationRequestBody); the
//   IstioOperator CRD itself leaves meshConfig unvalidated.
// - Envoy Gateway's SecurityPolicy.extAuth and EnvoyProxy.backendTLS (envoyproxy/gateway
//   api/v1alpha1 ext_auth_types.go, shared_types.go, envoyproxy_types.go, v1.8).
// Strict: an unknown key (a typo) is an error there, as the API server's strict field validation would make it.

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1';
import { AuthorizationPolicy, PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1';
import { BackendTLSPolicy } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { ReferenceGrant } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1';
import { allDocs, render, KUBE_DIR, type K8sObject } from '../../helpers/deploy/manifests.js';
import { join } from 'node:path';

type Validating = new (data: never) => { validate(): void };

const MODELS: Record<string, Validating> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'install.istio.io/v1alpha1/IstioOperator': IstioOperator,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy,
  'security.istio.io/v1/PeerAuthentication': PeerAuthentication,
  'gateway.networking.k8s.io/v1/BackendTLSPolicy': BackendTLSPolicy,
  'gateway.networking.k8s.io/v1beta1/ReferenceGrant': ReferenceGrant,
};

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63);
const metadata = z.strictObject({ name, namespace: name.optional(), labels: z.record(z.string(), z.string()).optional() });
const port = z.number().int().min(1).max(65535);
/** gwapiv1.Duration (Gateway API GEP-2257). */
const gatewayDuration = z.string().regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/);
/** google.protobuf.Duration in proto3 JSON. */
const protoDuration = z.string().regex(/^-?\d+(\.\d{1,9})?s$/);

const istioExtAuthzGrpc = z.strictObject({
  service: z.string().min(1),
  port,
  timeout: protoDuration.optional(),
  failOpen: z.boolean().optional(),
  clearRouteCache: z.boolean().optional(),
  statusOnError: z.string().regex(/^[1-5][0-9]{2}$/).optional(),
  includeRequestBodyInCheck: z
    .strictObject({
      maxRequestBytes: z.number().int().min(0).max(2 ** 32 - 1).optional(),
      allowPartialMessage: z.boolean().optional(),
      packAsBytes: z.boolean().optional(),
    })
    .optional(),
});

const istioOperatorMesh = z.object({
  spec: z.object({
    meshConfig: z.object({
      extensionProviders: z.array(z.strictObject({ name: z.string().min(1), envoyExtAuthzGrpc: istioExtAuthzGrpc })).min(1),
    }),
  }),
});

const backendObjectReference = z.strictObject({
  group: z.string().optional(),
  kind: z.string().optional(),
  name,
  namespace: name.optional(),
  port: port.optional(),
});

const securityPolicy = z.strictObject({
  apiVersion: z.literal('gateway.envoyproxy.io/v1alpha1'),
  kind: z.literal('SecurityPolicy'),
  metadata,
  spec: z.strictObject({
    targetRefs: z.array(z.strictObject({ group: z.string(), kind: z.string(), name, sectionName: z.string().optional() })).min(1),
    extAuth: z
      .strictObject({
        grpc: z.strictObject({ backendRefs: z.array(backendObjectReference).min(1).max(16) }),
        headersToExtAuth: z.array(z.string().regex(/^[a-z0-9-]+$/)).optional(),
        bodyToExtAuth: z.strictObject({ maxRequestBytes: z.number().int().min(1).max(2 ** 32 - 1) }).optional(),
        timeout: gatewayDuration.optional(),
        failOpen: z.boolean().optional(),
        recomputeRoute: z.boolean().optional(),
        includeRouteMetadata: z.boolean().optional(),
        statusOnError: z.number().int().min(100).max(599).optional(),
      }),
  }),
});

const envoyProxy = z.strictObject({
  apiVersion: z.literal('gateway.envoyproxy.io/v1alpha1'),
  kind: z.literal('EnvoyProxy'),
  metadata,
  spec: z.strictObject({
    backendTLS: z.strictObject({
      clientCertificateRef: z.strictObject({ group: z.literal('').optional(), kind: z.literal('Secret').optional(), name, namespace: name.optional() }),
    }),
  }),
});

const kustomization = z.strictObject({
  apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
  kind: z.literal('Kustomization'),
  resources: z.array(z.string()).min(1),
  patches: z.array(z.strictObject({ path: z.string() })).optional(),
  images: z.array(z.strictObject({ name: z.string(), newName: z.string(), newTag: z.string() })).optional(),
});

function validate(object: K8sObject): void {
  const kind = `${object.apiVersion}/${object.kind}`;
  switch (kind) {
    case 'gateway.envoyproxy.io/v1alpha1/SecurityPolicy':
      securityPolicy.parse(object);
      return;
    case 'gateway.envoyproxy.io/v1alpha1/EnvoyProxy':
      envoyProxy.parse(object);
      return;
    case 'kustomize.config.k8s.io/v1beta1/Kustomization':
      kustomization.parse(object);
      return;
  }
  const Model = MODELS[kind];
  if (!Model) throw new Error(`no schema for ${kind}`);
  new Model(object as never).validate();
  if (kind === 'install.istio.io/v1alpha1/IstioOperator') istioOperatorMesh.parse(object);
}

describe('deploy/kubernetes against the schemas', () => {
  const docs = allDocs();

  it('holds the objects the deployment needs', () => {
    const kinds = new Set(docs.map((d) => d.object.kind));
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'IstioOperator', 'AuthorizationPolicy', 'SecurityPolicy']) {
      expect(kinds, kind).toContain(kind);
    }
    // Secrets are referenced, never checked in.
    expect(docs.filter((d) => d.object.kind === 'Secret')).toEqual([]);
  });

  it.each(allDocs().map((d) => [`${d.file}: ${d.object.kind} ${d.object.metadata?.name ?? ''}`, d.object] as const))('%s is valid', (_label, object) => {
    expect(() => validate(object)).not.toThrow();
  });

  it('renders each kustomization, and every rendered object is valid too', () => {
    for (const dir of ['base', 'istio', 'envoy-gateway']) {
      const objects = render(join(KUBE_DIR, dir));
      expect(objects.length, dir).toBeGreaterThanOrEqual(8);
      for (const object of objects) expect(() => validate(object), `${dir}: ${object.kind} ${object.metadata.name}`).not.toThrow();
    }
  });

  it('would catch a mistake: each validator refuses a broken object', () => {
    const deployment = structuredClone(docs.find((d) => d.object.kind === 'Deployment')!.object) as K8sObject & { spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } } } };
    deployment.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'grpc';
    expect(() => validate(deployment)).toThrow(/containerPort/);
    const policy = structuredClone(docs.find((d) => d.object.kind === 'AuthorizationPolicy' && (d.object.spec as { action: string }).action === 'CUSTOM')!.object);
    (policy.spec as { action: string }).action = 'CUSTOMISED';
    expect(() => validate(policy)).toThrow(/action/);
    const mesh = structuredClone(docs.find((d) => d.object.kind === 'IstioOperator')!.object) as K8sObject & { spec: { meshConfig: { extensionProviders: Array<{ envoyExtAuthzGrpc: Record<string, unknown> }> } } };
    mesh.spec.meshConfig.extensionProviders[0]!.envoyExtAuthzGrpc.fail_open = false;
    expect(() => validate(mesh)).toThrow(/fail_open/);
    const security = structuredClone(docs.find((d) => d.object.kind === 'SecurityPolicy')!.object) as K8sObject & { spec: { extAuth: Record<string, unknown> } };
    security.spec.extAuth.timeout = '250 ms';
    expect(() => validate(security)).toThrow(/timeout/);
    delete security.spec.extAuth.timeout;
    security.spec.extAuth.failopen = false;
    expect(() => validate(security)).toThrow(/failopen/);
  });
});
